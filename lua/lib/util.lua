-- util: small helpers of indicator scripts.
local M = {}

-- A percent or ratio result {num, den}; nil (no data) when the denominator is unknown, as
-- when an organisation has not given its reference figure for the period.
function M.share(num, den)
  if num == nil or den == nil then
    return nil
  end
  return {num = num, den = den}
end

-- The keys of a table, sorted.
function M.sorted_keys(t)
  local keys = {}
  for k in pairs(t) do
    keys[#keys + 1] = k
  end
  table.sort(keys)
  return keys
end

-- Whether an organisation teaches (a school, college or centre) rather than employs mentors.
function M.is_educational(org)
  return org.level == "organisation" and org.kind ~= "enterprise"
end

return M
