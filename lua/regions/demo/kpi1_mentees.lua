-- KPI 1 of the road map (seed 002): the share of pupils aged 10-18 who are mentees in a
-- programme: mentees aged 10-18 in a pair during the year / the school's pupils aged 10-18
-- (the reference figure pupils_10_18).
local util = require("util")

return {
  id = "kpi1_mentees",
  title = {
    ru = "Доля обучающихся 10–18 лет в роли наставляемого, %",
    en = "Pupils aged 10-18 who are mentees, %",
  },
  unit = "percent",
  period = "year",
  targets = {[2020] = 10, [2021] = 20, [2022] = 35, [2023] = 50, [2024] = 70,
              -- The demo region keeps its 2024 target in the years after the seed.
              [2025] = 70, [2026] = 70, [2027] = 70},
  compute = function(ctx)
    local mentees = ctx.count_participants{role = "mentee", kind = "pupil",
                                           age_from = 10, age_to = 18, in_pairs = true}
    return util.share(mentees, ctx.figure("pupils_10_18"))
  end,
}
