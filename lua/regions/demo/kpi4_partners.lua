-- KPI 4 (seed 002): enterprises that gave mentors, as a share of the organisations of the
-- city (partner_orgs, a figure of the municipality). It is counted over each municipality
-- and the region (rollup = "recompute": an enterprise that gave mentors to two schools
-- counts once), and means nothing for a single school.
return {
  id = "kpi4_partners",
  title = {
    ru = "Предприятия (организации), предоставившие наставников, %",
    en = "Enterprises that gave mentors, %",
  },
  unit = "percent",
  period = "year",
  rollup = "recompute",
  targets = {[2020] = 1, [2021] = 2, [2022] = 3, [2023] = 4, [2024] = 5,
              -- The demo region keeps its 2024 target in the years after the seed.
              [2025] = 5, [2026] = 5, [2027] = 5},
  compute = function(ctx)
    if ctx.org.level == "organisation" then
      return nil
    end
    local all = ctx.figure("partner_orgs")
    if all == nil then
      return nil
    end
    return {num = ctx.partner_orgs_with_mentors(), den = all}
  end,
}
