-- The share of mentees whose motivation score grew between the entry and the final
-- questionnaire (доля участников с положительной динамикой), by form of mentoring.
local growth = require("growth")

return {
  id = "positive_motivation",
  title = {
    ru = "Доля наставляемых с положительной динамикой мотивации, %",
    en = "Mentees whose motivation grew, %",
  },
  unit = "percent",
  period = "year",
  compute = function(ctx)
    local s = ctx.paired_summary{scale = "motivation", entry_survey = ctx.params.entry_survey,
                                 final_survey = ctx.params.final_survey}
    local r = growth.share_positive(s)
    if r then
      r.breakdown = growth.by_form(s, growth.share_positive)
    end
    return r
  end,
}
