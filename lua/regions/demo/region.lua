-- The demonstration region (docs/samples): the organisation its indicators start from, and
-- the parameters its scripts read as ctx.params.
return {
  org = "demo-region",
  name = {ru = "Демонстрационная область", en = "Demonstration region"},
  params = {
    -- A respondent is satisfied when their satisfaction score is at least this (1-10).
    satisfied_min = 8,
    -- The questionnaires whose scales the growth indicators compare.
    entry_survey = "mentee-entry",
    final_survey = "mentee-final",
  },
}
