-- The mean growth of the mentees' competence score between the entry and the final questionnaire
-- of the year (final - entry, on 1-10), with a breakdown by form of mentoring.
local growth = require("growth")

return {
  id = "growth_competence",
  title = {
    ru = "Средний прирост компетенций наставляемых, баллов",
    en = "Mean growth of mentees' competence, points",
  },
  unit = "score",
  period = "year",
  compute = function(ctx)
    local s = ctx.paired_summary{scale = "competence", entry_survey = ctx.params.entry_survey,
                                 final_survey = ctx.params.final_survey}
    local r = growth.mean_growth(s)
    if r then
      r.breakdown = growth.by_form(s, growth.mean_growth)
    end
    return r
  end,
}
