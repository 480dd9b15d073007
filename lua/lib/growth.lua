-- growth: the change between the entry and the final measurement of the same participants
-- (оценка мотивационно-личностного и компетентностного роста участников).
--
-- The functions take a summary: what ctx.paired_summary{...} returns (computed in SQL and C,
-- the fast way), or what growth.summarize(list) makes of the list of ctx.paired_scores{...}.
-- A summary has n, mean_entry, mean_final, mean_growth, sd_growth, positive, negative,
-- unchanged, and forms (the same for each form of mentoring).
local M = {}

local function new_group()
  return {n = 0, sum_entry = 0, sum_final = 0, mean = 0, m2 = 0,
          positive = 0, negative = 0, unchanged = 0}
end

local function add(g, entry, final)
  local d = final - entry
  g.n = g.n + 1
  g.sum_entry = g.sum_entry + entry
  g.sum_final = g.sum_final + final
  local delta = d - g.mean
  g.mean = g.mean + delta / g.n
  g.m2 = g.m2 + delta * (d - g.mean)
  if d > 0 then
    g.positive = g.positive + 1
  elseif d < 0 then
    g.negative = g.negative + 1
  else
    g.unchanged = g.unchanged + 1
  end
end

local function finish(g)
  local s = {n = g.n, positive = g.positive, negative = g.negative, unchanged = g.unchanged}
  if g.n > 0 then
    s.mean_entry = g.sum_entry / g.n
    s.mean_final = g.sum_final / g.n
    s.mean_growth = g.mean
  end
  if g.n > 1 then
    s.sd_growth = math.sqrt(g.m2 / (g.n - 1))
  end
  return s
end

-- The summary of a list of {entry = ..., final = ..., form = ...}.
function M.summarize(list)
  local all, forms = new_group(), {}
  for _, p in ipairs(list) do
    add(all, p.entry, p.final)
    local key = p.form or "none"
    forms[key] = forms[key] or new_group()
    add(forms[key], p.entry, p.final)
  end
  local s = finish(all)
  s.forms = {}
  for key, g in pairs(forms) do
    s.forms[key] = finish(g)
  end
  return s
end

-- Mean growth (final - entry) as the result of a score indicator, or nil without pairs.
function M.mean_growth(s)
  if s.n == 0 then
    return nil
  end
  return {value = s.mean_growth, n = s.n}
end

-- The share of participants whose score grew (доля участников с положительной динамикой),
-- as the result of a percent indicator, or nil without pairs.
function M.share_positive(s)
  if s.n == 0 then
    return nil
  end
  return {num = s.positive, den = s.n}
end

-- Relative growth, %: (mean final - mean entry) / mean entry * 100; nil without pairs.
function M.relative_growth(s)
  if s.n == 0 or s.mean_entry == 0 then
    return nil
  end
  return (s.mean_final - s.mean_entry) / s.mean_entry * 100
end

-- The effect size (Cohen's d_z): mean growth / standard deviation of the growth. nil with
-- fewer than two pairs, or when every participant grew by the same amount.
function M.effect_size(s)
  if not s.sd_growth or s.sd_growth == 0 then
    return nil
  end
  return s.mean_growth / s.sd_growth
end

-- A breakdown by form of mentoring: fn(summary of a form) for each form, in the order of
-- the forms' names, as the list compute() returns in its result's breakdown.
function M.by_form(s, fn)
  local keys = {}
  for key in pairs(s.forms or {}) do
    keys[#keys + 1] = key
  end
  table.sort(keys)
  local parts = {}
  for _, key in ipairs(keys) do
    local r = fn(s.forms[key])
    if r then
      r.key = key
      parts[#parts + 1] = r
    end
  end
  return parts
end

return M
