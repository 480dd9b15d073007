-- Tests of the demo2 region: `anketa indicators test lua/regions/demo2`.
fixture{
  orgs = {
    {code = "demo-region", level = "region"},
    {code = "mun-a", parent = "demo-region", level = "municipality"},
    {code = "school-1", parent = "mun-a", level = "organisation", kind = "school"},
    {code = "school-2", parent = "mun-a", level = "organisation", kind = "school"},
  },
  programmes = {
    {code = "pp-1", org = "school-1", form = "pupil-pupil"},
    {code = "pp-2", org = "school-2", form = "pupil-pupil"},
  },
  participants = {
    {code = "m1", org = "school-1", programme = "pp-1", role = "mentor", kind = "pupil"},
    {code = "p1", org = "school-1", programme = "pp-1", role = "mentee", kind = "pupil"},
    {code = "p2", org = "school-1", programme = "pp-1", role = "mentee", kind = "pupil"},
    {code = "m2", org = "school-2", programme = "pp-2", role = "mentor", kind = "pupil"},
    {code = "q1", org = "school-2", programme = "pp-2", role = "mentee", kind = "pupil"},
  },
  pairs = {
    {programme = "pp-1", mentor = "m1", mentee = "p1", starts = "2026-09-15", ends = "2027-05-20",
     status = "finished"},
    {programme = "pp-1", mentor = "m1", mentee = "p2", starts = "2026-09-15", ends = "2026-12-01",
     status = "broken"},
    {programme = "pp-2", mentor = "m2", mentee = "q1", starts = "2026-09-15"},
  },
  responses = {
    {participant = "p1", survey = "mentee-final", period = "2026/27", wave = "final",
     scores = {satisfaction = 9}},
    {participant = "p2", survey = "mentee-final", period = "2026/27", wave = "final",
     scores = {satisfaction = 6}},
    {participant = "q1", survey = "mentee-final", period = "2026/27", wave = "final",
     scores = {satisfaction = 7}},
  },
}

local r = run{period = "2026/27"}

-- Satisfaction as mean / 10 * 100: school-1 (9 + 6) / 2 = 7.5 -> 75; school-2 70; the
-- municipality is the mean of its three respondents, (9 + 6 + 7) / 3 / 10 * 100, not the
-- mean of 75 and 70.
expect_eq(r.satisfaction_mentees["school-1"].value, 75)
expect_eq(r.satisfaction_mentees["school-2"].value, 70)
expect_eq(r.satisfaction_mentees["mun-a"].value, (9 + 6 + 7) / 3 / 10 * 100)
expect_eq(r.satisfaction_mentees["mun-a"].target, 80)

-- Pairs that ended in 2026/27: p1's finished, p2's broke off; q1's goes on. 1 of 2.
expect_eq(r.pairs_finished["school-1"].value, 50)
expect_eq(r.pairs_finished["school-1"].breakdown["pupil-pupil"].den, 2)
expect_eq(r.pairs_finished["school-2"].state, "none")
expect_eq(r.pairs_finished["demo-region"].value, 50)
