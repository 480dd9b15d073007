-- This region's own indicator: of the pairs that ended during the year, the share that
-- finished their programme (завершена) rather than broke off (расторгнута), by form.
return {
  id = "pairs_finished",
  title = {
    ru = "Доля пар, успешно завершивших программу, %",
    en = "Pairs that finished their programme, %",
  },
  unit = "percent",
  period = "year",
  targets_file = "targets.csv",
  compute = function(ctx)
    local ended = ctx.count_pairs{ended = true}
    if ended == 0 then
      return nil
    end
    local parts = {}
    for _, form in ipairs({"pupil-pupil", "student-pupil", "employer-pupil", "employer-student",
                           "teacher-teacher"}) do
      local n = ctx.count_pairs{ended = true, form = form}
      if n > 0 then
        parts[#parts + 1] = {key = form,
                             num = ctx.count_pairs{ended = true, form = form, status = "finished"},
                             den = n}
      end
    end
    return {num = ctx.count_pairs{ended = true, status = "finished"}, den = ended,
            breakdown = parts}
  end,
}
