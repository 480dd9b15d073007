-- Tests of the demo region's indicators: `anketa indicators test lua/regions/demo`.
-- The fixture is a small region (codes are the region's own: region.lua names demo-region);
-- the expected values are worked out by hand beside each expectation.
fixture{
  orgs = {
    {code = "demo-region", level = "region"},
    {code = "mun-a", parent = "demo-region", level = "municipality"},
    {code = "school-1", parent = "mun-a", level = "organisation", kind = "school"},
    {code = "school-2", parent = "mun-a", level = "organisation", kind = "school"},
    {code = "plant", parent = "mun-a", level = "organisation", kind = "enterprise"},
  },
  programmes = {
    {code = "pp-1", org = "school-1", form = "pupil-pupil"},
    {code = "ep-1", org = "school-1", form = "employer-pupil"},
    {code = "pp-2", org = "school-2", form = "pupil-pupil"},
  },
  participants = {
    -- Ages are counted at the start of 2026/27: 2026 - birth year.
    {code = "m1", org = "school-1", programme = "pp-1", role = "mentor", kind = "pupil", birth_year = 2010},
    {code = "p1", org = "school-1", programme = "pp-1", role = "mentee", kind = "pupil", birth_year = 2013},
    {code = "p2", org = "school-1", programme = "pp-1", role = "mentee", kind = "pupil", birth_year = 2018},
    {code = "p3", org = "school-1", programme = "ep-1", role = "mentee", kind = "pupil", birth_year = 2011},
    {code = "w1", org = "plant", programme = "ep-1", role = "mentor", kind = "employer"},
    {code = "m2", org = "school-2", programme = "pp-2", role = "mentor", kind = "pupil", birth_year = 2009},
    {code = "q1", org = "school-2", programme = "pp-2", role = "mentee", kind = "pupil", birth_year = 2014},
  },
  pairs = {
    {programme = "pp-1", mentor = "m1", mentee = "p1", starts = "2026-09-15"},
    {programme = "pp-1", mentor = "m1", mentee = "p2", starts = "2026-09-15"},
    {programme = "ep-1", mentor = "w1", mentee = "p3", starts = "2026-10-01"},
    {programme = "pp-2", mentor = "m2", mentee = "q1", starts = "2025-09-15", ends = "2026-05-31",
     status = "finished"},
  },
  figures = {
    {org = "school-1", period = "2026/27", name = "pupils_10_18", value = 30},
    {org = "school-2", period = "2026/27", name = "pupils_10_18", value = 20},
    {org = "school-1", period = "2026/27", name = "pupils_15_18", value = 10},
    {org = "school-2", period = "2026/27", name = "pupils_15_18", value = 8},
    {org = "mun-a", period = "2026/27", name = "partner_orgs", value = 25},
  },
  responses = {
    {participant = "p1", survey = "mentee-entry", period = "2026/27", wave = "entry",
     scores = {motivation = 5, competence = 6}},
    {participant = "p1", survey = "mentee-final", period = "2026/27", wave = "final",
     scores = {satisfaction = 9, motivation = 8, competence = 6}},
    {participant = "p3", survey = "mentee-entry", period = "2026/27", wave = "entry",
     scores = {motivation = 6, competence = 4}},
    {participant = "p3", survey = "mentee-final", period = "2026/27", wave = "final",
     scores = {satisfaction = 7.5, motivation = 5, competence = 7}},
    {participant = "q1", survey = "mentee-final", period = "2026/27", wave = "final",
     scores = {satisfaction = 8}},
  },
}

local r = run{period = "2026/27"}

-- KPI 1: school-1 has p1 (13) and p3 (15) in pairs; p2 is 8. school-2's only pair ended in
-- May 2026, before the year. 2 / 30 and 0 / 20; mun-a and the region: 2 / 50.
expect_eq(r.kpi1_mentees["school-1"].num, 2)
expect_eq(r.kpi1_mentees["school-1"].value, 2 / 30 * 100)
expect_eq(r.kpi1_mentees["school-2"].value, 0)
expect_eq(r.kpi1_mentees["demo-region"].value, 2 / 50 * 100)
expect_eq(r.kpi1_mentees["plant"].state, "none")

-- KPI 2: m1 (16) is a mentor in a pair: 1 / 10; m2's pair ended: 0 / 8; region 1 / 18.
expect_eq(r.kpi2_mentors["mun-a"].value, 1 / 18 * 100)

-- KPI 4: the plant gave a mentor (w1): 1 of the municipality's 25 organisations.
expect_eq(r.kpi4_partners["mun-a"].value, 4)
expect_nil(r.kpi4_partners["school-1"].value)

-- KPI 5: satisfied (8 or more) are p1 (9) and q1 (8); p3 (7.5) is not: 1 of 2 and 1 of 1.
expect_eq(r.kpi5_mentee_satisfaction["school-1"].value, 50)
expect_eq(r.kpi5_mentee_satisfaction["demo-region"].num, 2)
expect_eq(r.kpi5_mentee_satisfaction["demo-region"].den, 3)

-- Growth of motivation: p1 5 -> 8 (+3, pupil-pupil), p3 6 -> 5 (-1, employer-pupil).
expect_eq(r.growth_motivation["school-1"].value, (3 + -1) / 2)
expect_eq(r.growth_motivation["school-1"].n, 2)
expect_eq(r.growth_motivation["school-1"].breakdown["pupil-pupil"].value, 3)
expect_eq(r.growth_motivation["school-1"].breakdown["employer-pupil"].value, -1)
expect_eq(r.positive_motivation["demo-region"].value, 50)

-- Targets by school year: seed 002's road map to 2024, then the demo keeps the 2024 target;
-- none before the road map began.
expect_eq(r.kpi1_mentees["school-1"].target, 70)
expect_eq(run{period = "2022/23"}.kpi1_mentees["school-1"].target, 35)
expect_nil(run{period = "2019/20"}.kpi1_mentees["school-1"].target)
