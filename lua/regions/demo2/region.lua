-- A second region, defined over the same demonstration data so that the two are seen side by
-- side: it reads satisfaction as the mean score over the top of the scale (mean / 10 * 100)
-- where demo counts the respondents scoring 8 or more, and it watches how pairs end.
return {
  org = "demo-region",
  name = {ru = "Вторая демонстрационная область", en = "Second demonstration region"},
  params = {
    scale_top = 10,
  },
}
