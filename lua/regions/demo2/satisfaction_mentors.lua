-- The satisfaction of mentors as this region reads it: the mean satisfaction score of the
-- respondents of mentor-final as a percentage of the top of the scale (mean / 10 * 100).
local satisfaction = require("satisfaction")

return {
  id = "satisfaction_mentors",
  title = {
    ru = "Удовлетворённость наставников (средний балл / 10 × 100), %",
    en = "Satisfaction of mentors (mean score / 10 × 100), %",
  },
  unit = "percent",
  period = "year",
  targets_file = "targets.csv",
  compute = function(ctx)
    local s = ctx.scores{survey = "mentor-final", scale = "satisfaction"}
    return satisfaction.mean_percent(s, ctx.params.scale_top)
  end,
}
