-- KPI 6 (seed 002): the satisfaction of mentors, as KPI 5 with the mentors' questionnaire.
local satisfaction = require("satisfaction")

return {
  id = "kpi6_mentor_satisfaction",
  title = {
    ru = "Уровень удовлетворённости наставников, % (опросный)",
    en = "Mentors' satisfaction, % (survey)",
  },
  unit = "percent",
  period = "year",
  targets = {[2020] = 50, [2021] = 55, [2022] = 60, [2023] = 70, [2024] = 85,
              -- The demo region keeps its 2024 target in the years after the seed.
              [2025] = 85, [2026] = 85, [2027] = 85},
  compute = function(ctx)
    return satisfaction.share(ctx.share_at_least{survey = "mentor-final", scale = "satisfaction",
                                                 min = ctx.params.satisfied_min})
  end,
}
