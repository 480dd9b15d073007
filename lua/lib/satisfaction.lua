-- satisfaction: the level of satisfaction with a programme (уровень удовлетворённости), in
-- the two ways regions compute it from scores of 1 to 10.
local M = {}

-- The share of respondents scoring at least the threshold, from
-- ctx.share_at_least{...} (which returns how many did, and of how many): a percent result.
function M.share(count, n)
  if n == 0 then
    return nil
  end
  return {num = count, den = n}
end

-- The mean score as a percentage of the top of the scale (mean / 10 * 100), from the
-- summary of ctx.scores{...}. Written as num/den (the sum of scores over top * n), so that a
-- municipality's value is the mean of all its respondents, not a mean of schools' means.
function M.mean_percent(summary, top)
  top = top or 10
  if summary.n == 0 then
    return nil
  end
  return {num = summary.sum, den = top * summary.n}
end

-- The level of a mean score: "high" (8-10), "middle" (5-7) or "low" (1-4).
function M.level(mean)
  if mean >= 8 then
    return "high"
  elseif mean >= 5 then
    return "middle"
  end
  return "low"
end

return M
