-- KPI 3 (seed 002): the share of young teachers (0-3 years of experience) who are mentees:
-- such teachers in a pair during the year / the school's teachers with 0-3 years
-- (teachers_0_3).
local util = require("util")

return {
  id = "kpi3_young_teachers",
  title = {
    ru = "Доля молодых специалистов (стаж 0–3 года) в роли наставляемого, %",
    en = "Young teachers (0-3 years) who are mentees, %",
  },
  unit = "percent",
  period = "year",
  targets = {[2020] = 100, [2021] = 100, [2022] = 100, [2023] = 100, [2024] = 100,
              -- The demo region keeps its 2024 target in the years after the seed.
              [2025] = 100, [2026] = 100, [2027] = 100},
  compute = function(ctx)
    local mentees = ctx.count_participants{role = "mentee", kind = "teacher",
                                           experience_max = 3, in_pairs = true}
    return util.share(mentees, ctx.figure("teachers_0_3"))
  end,
}
