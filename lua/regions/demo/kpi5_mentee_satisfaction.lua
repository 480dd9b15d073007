-- KPI 5 (seed 002): the satisfaction of mentees: respondents of the mentees' final
-- questionnaire whose satisfaction score is at least ctx.params.satisfied_min / all its
-- respondents.
local satisfaction = require("satisfaction")

return {
  id = "kpi5_mentee_satisfaction",
  title = {
    ru = "Уровень удовлетворённости наставляемых, % (опросный)",
    en = "Mentees' satisfaction, % (survey)",
  },
  unit = "percent",
  period = "year",
  targets = {[2020] = 50, [2021] = 55, [2022] = 60, [2023] = 70, [2024] = 85,
              -- The demo region keeps its 2024 target in the years after the seed.
              [2025] = 85, [2026] = 85, [2027] = 85},
  compute = function(ctx)
    return satisfaction.share(ctx.share_at_least{survey = "mentee-final", scale = "satisfaction",
                                                 min = ctx.params.satisfied_min})
  end,
}
