-- The effect size of the mentees' motivation growth (Cohen's d_z: mean growth / its standard
-- deviation). An effect size is not a sum or a mean of its parts, so it is computed again
-- over every municipality and the region (rollup = "recompute"). n is the number of pairs.
local growth = require("growth")

return {
  id = "effect_motivation",
  title = {
    ru = "Размер эффекта роста мотивации наставляемых (d_z)",
    en = "Effect size of mentees' motivation growth (d_z)",
  },
  unit = "score",
  period = "year",
  rollup = "recompute",
  compute = function(ctx)
    local s = ctx.paired_summary{scale = "motivation", entry_survey = ctx.params.entry_survey,
                                 final_survey = ctx.params.final_survey}
    local dz = growth.effect_size(s)
    if dz == nil then
      return nil
    end
    return {value = dz, n = s.n}
  end,
}
