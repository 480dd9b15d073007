-- KPI 2 (seed 002): the share of pupils aged 15-18 who are mentors: pupil mentors aged 15-18
-- in a pair during the year / the school's pupils aged 15-18 (pupils_15_18).
local util = require("util")

return {
  id = "kpi2_mentors",
  title = {
    ru = "Доля обучающихся 15–18 лет в роли наставника, %",
    en = "Pupils aged 15-18 who are mentors, %",
  },
  unit = "percent",
  period = "year",
  targets = {[2020] = 2, [2021] = 4, [2022] = 6, [2023] = 8, [2024] = 10,
              -- The demo region keeps its 2024 target in the years after the seed.
              [2025] = 10, [2026] = 10, [2027] = 10},
  compute = function(ctx)
    local mentors = ctx.count_participants{role = "mentor", kind = "pupil",
                                           age_from = 15, age_to = 18, in_pairs = true}
    return util.share(mentors, ctx.figure("pupils_15_18"))
  end,
}
