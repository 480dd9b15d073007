-- The data of `make bench` (bench/run.sh), the one generator of the benchmarks: a region of
-- 300 organisations (20 municipalities of 14 schools and 1 enterprise), 100,000
-- participants, and 1,000,000 responses: every participant answered the entry and the final
-- questionnaire of their role in each of five school years (2022/23 to 2026/27), 15 to 22
-- answers each (18 on average), with the three scale scores. Two more campaigns stay open
-- and unanswered, 200,000 links in all, for the submission benchmark's fresh tokens.
--
-- Deterministic: every value comes from the row's number through a fixed hash, so the same
-- file gives the same database. Run on a database made by `anketa init`: the responses'
-- scores reach indicator_scores through the schema's triggers, as in production.
PRAGMA foreign_keys = OFF;
PRAGMA synchronous = OFF;
PRAGMA cache_size = -400000;
BEGIN;
INSERT INTO orgs(id, parent_id, level, code, name, kind)
VALUES (1, NULL, 'region', 'bench-region', 'Область для замеров', NULL);
WITH RECURSIVE m(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM m WHERE i < 20)
INSERT INTO orgs(id, parent_id, level, code, name, kind)
SELECT 1 + i, 1, 'municipality', 'bench-mun-' || i, 'Муниципалитет ' || i, NULL FROM m;
-- Organisation i belongs to municipality i / 15; the 15th of each is an enterprise.
WITH RECURSIVE o(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM o WHERE i < 299)
INSERT INTO orgs(id, parent_id, level, code, name, kind)
SELECT 100 + i, 2 + i / 15, 'organisation', 'bench-org-' || i, 'Школа № ' || i,
       CASE WHEN i % 15 = 14 THEN 'enterprise' ELSE 'school' END FROM o;
WITH RECURSIVE o(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM o WHERE i < 299)
INSERT INTO programmes(id, org_id, code, form, title, year)
SELECT 1000 + i, 100 + i, 'bench-prog-' || i,
       CASE WHEN i % 15 = 14 THEN 'employer-pupil'
            WHEN i % 2 = 0 THEN 'pupil-pupil' ELSE 'student-pupil' END,
       'Программа ' || i, 2022 FROM o;
-- The reference figures of every year.
WITH RECURSIVE y(n) AS (SELECT 2022 UNION ALL SELECT n + 1 FROM y WHERE n < 2026)
INSERT INTO figures(org_id, period, name, value)
SELECT o.id, y.n || '/' || (y.n - 1999), f.name, f.v FROM orgs o, y,
       (SELECT 'pupils_10_18' name, 800 v UNION ALL SELECT 'pupils_15_18', 300
        UNION ALL SELECT 'teachers_0_3', 12) f
WHERE o.kind = 'school';
WITH RECURSIVE y(n) AS (SELECT 2022 UNION ALL SELECT n + 1 FROM y WHERE n < 2026)
INSERT INTO figures(org_id, period, name, value)
SELECT id, y.n || '/' || (y.n - 1999), 'partner_orgs', 40 FROM orgs, y
WHERE level = 'municipality';
-- Participant k (id k + 1) belongs to organisation k % 300 as its (k / 300)-th member: in a
-- school the first 240 are mentees (every 50th a young teacher), the other 93 or 94 mentor;
-- in an enterprise every one is an employer who mentors.
WITH RECURSIVE n(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM n WHERE k < 99999),
     p(k, o, j, school) AS (SELECT k, k % 300, k / 300, (k % 300) % 15 <> 14 FROM n)
INSERT INTO participants(id, code, org_id, programme_id, role, kind, birth_year,
                         experience_years, consent_date)
SELECT k + 1, 'B-' || k, 100 + o, 1000 + o,
       CASE WHEN school AND j < 240 THEN 'mentee' ELSE 'mentor' END,
       CASE WHEN NOT school THEN 'employer' WHEN j % 50 = 7 THEN 'teacher' ELSE 'pupil' END,
       CASE WHEN NOT school OR j % 50 = 7 THEN NULL ELSE 2006 + (j * 7) % 12 END,
       CASE WHEN j % 50 = 7 THEN j % 6 END, '2022-09-01'
FROM p;
-- Each school mentee with one of the school's mentors (two or three mentees each), and
-- each enterprise's first 30 employers with pupils of the school before it.
INSERT INTO pairs(programme_id, mentor_id, mentee_id, starts, ends, status)
SELECT programme_id, (240 + ((id - 1) / 300) % 93) * 300 + (id - 1) % 300 + 1, id,
       '2022-09-20', CASE WHEN id % 10 = 0 THEN '2026-05-25' END,
       CASE WHEN id % 10 = 0 THEN CASE WHEN id % 20 = 0 THEN 'broken' ELSE 'finished' END
            ELSE 'active' END
FROM participants WHERE role = 'mentee';
INSERT INTO pairs(programme_id, mentor_id, mentee_id, starts, ends, status)
SELECT p.programme_id, p.id, p.id - 1, '2022-10-01', NULL, 'active'
FROM participants p JOIN orgs o ON o.id = p.org_id
WHERE o.kind = 'enterprise' AND (p.id - 1) / 300 < 30;
-- Campaign 1 + 4y + 2w + r: year 2022 + y, wave w (entry, final), role r (mentee, mentor).
WITH RECURSIVE c(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM c WHERE n < 19),
     d(n, yr, w, r) AS (SELECT n, 2022 + n / 4, (n / 2) % 2, n % 2 FROM c)
INSERT INTO campaigns(id, code, survey_id, org_id, period, wave, role, form, opens, closes,
                      status, created_at)
SELECT 1 + n, 'bench-' || yr || '-' || CASE r WHEN 0 THEN 'mentee' ELSE 'mentor' END || '-' ||
       CASE w WHEN 0 THEN 'entry' ELSE 'final' END,
       CASE r WHEN 0 THEN 'mentee-' ELSE 'mentor-' END || CASE w WHEN 0 THEN 'entry' ELSE 'final' END,
       1, yr || '/' || (yr - 1999), CASE w WHEN 0 THEN 'entry' ELSE 'final' END,
       CASE r WHEN 0 THEN 'mentee' ELSE 'mentor' END, NULL,
       CASE w WHEN 0 THEN yr || '-09-20' ELSE (yr + 1) || '-05-10' END,
       CASE w WHEN 0 THEN yr || '-10-20' ELSE (yr + 1) || '-05-31' END, 'closed',
       CASE w WHEN 0 THEN yr || '-09-20T00:00:00Z' ELSE (yr + 1) || '-05-10T00:00:00Z' END
FROM d;
-- Invitation (and response) 10k + c + 1 of participant k: year c / 2, wave c % 2.
WITH RECURSIVE c(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM c WHERE n < 9)
INSERT INTO invitations(id, token, participant_id, campaign_id, survey_id, created_at)
SELECT (p.id - 1) * 10 + c.n + 1, 'bench' || printf('%017d', (p.id - 1) * 10 + c.n + 1), p.id,
       m.id, m.survey_id, m.created_at
FROM participants p, c
JOIN campaigns m ON m.id = 1 + 4 * (c.n / 2) + 2 * (c.n % 2) + (p.role = 'mentor');
INSERT INTO responses(id, invitation_id, survey_id, survey_version, survey_hash, submitted_at)
SELECT i.id, i.id, i.survey_id, 1, 'bench',
       CASE m.wave WHEN 'entry' THEN substr(m.opens, 1, 5) || '10-' || printf('%02d', 1 + i.id % 19)
            ELSE substr(m.opens, 1, 5) || '05-' || (10 + i.id % 20) END
       || 'T' || printf('%02d', 8 + i.id % 12) || ':00:00Z'
FROM invitations i JOIN campaigns m ON m.id = i.campaign_id;
-- The questions of the four questionnaires, each with the kind of value it gets.
CREATE TEMP TABLE q(survey_id TEXT, n INTEGER, id TEXT, kind TEXT);
INSERT INTO q SELECT 'mentee-entry', row_number() OVER (), column1, column2 FROM (VALUES
  ('consent', 'consent'), ('met_before', 'yesno'), ('met_where', 'text'),
  ('goals_text', 'text'), ('exp_effectiveness', 'scale'), ('exp_comfort', 'scale'),
  ('exp_group_meetings', 'scale'), ('exp_personal_meetings', 'scale'),
  ('exp_joint_work', 'scale'), ('exp_mentor_help', 'scale'), ('exp_plan_clarity', 'scale'),
  ('exp_support', 'scale'), ('exp_safety', 'scale'), ('self.goals', 'scale'),
  ('self.interest', 'scale'), ('self.effort', 'scale'), ('self.planning', 'scale'),
  ('self.skills', 'scale'), ('self.teamwork', 'scale'));
INSERT INTO q SELECT 'mentee-final', row_number() OVER (), column1, column2 FROM (VALUES
  ('met_before', 'yesno'), ('met_where', 'text'), ('effectiveness', 'scale'),
  ('comfort', 'scale'), ('group_meetings', 'scale'), ('personal_meetings', 'scale'),
  ('joint_work', 'scale'), ('mentor_help', 'scale'), ('plan_clarity', 'scale'),
  ('support', 'scale'), ('safety', 'scale'), ('expectations', 'scale'), ('valued', 'text'),
  ('improve', 'text'), ('continue_programme', 'yesno'), ('become_mentor', 'yesno'),
  ('self.goals', 'scale'), ('self.interest', 'scale'), ('self.effort', 'scale'),
  ('self.planning', 'scale'), ('self.skills', 'scale'), ('self.teamwork', 'scale'));
INSERT INTO q SELECT 'mentor-entry', row_number() OVER (), column1, column2 FROM (VALUES
  ('met_before', 'yesno'), ('met_where', 'text'), ('experience', 'experience'),
  ('exp_effectiveness', 'scale'), ('exp_comfort', 'scale'), ('exp_group_meetings', 'scale'),
  ('exp_personal_meetings', 'scale'), ('exp_joint_work', 'scale'), ('exp_planning', 'scale'),
  ('exp_plan_done', 'scale'), ('self.helping', 'scale'), ('self.meaning', 'scale'),
  ('self.time', 'scale'), ('self.explaining', 'scale'), ('self.planning', 'scale'),
  ('self.feedback', 'scale'), ('hopes', 'text'));
INSERT INTO q SELECT 'mentor-final', row_number() OVER (), column1, column2 FROM (VALUES
  ('met_before', 'yesno'), ('met_where', 'text'), ('effectiveness', 'scale'),
  ('comfort', 'scale'), ('group_meetings', 'scale'), ('personal_meetings', 'scale'),
  ('joint_work', 'scale'), ('planning', 'scale'), ('plan_done', 'scale'),
  ('expectations', 'scale'), ('valued', 'text'), ('improve', 'text'),
  ('continue_programme', 'yesno'), ('self.helping', 'scale'), ('self.meaning', 'scale'),
  ('self.time', 'scale'), ('self.explaining', 'scale'), ('self.planning', 'scale'),
  ('self.feedback', 'scale'));
-- Scales of 1-10 spread by a hash of the response and the question; a text in one response
-- of three (Cyrillic, one kind starting with '=' for the exports' formula guard).
INSERT INTO answers(response_id, question_id, value)
SELECT r.id, q.id,
       CASE q.kind
         WHEN 'consent' THEN 'yes'
         WHEN 'yesno' THEN CASE WHEN (r.id + q.n) % 3 = 0 THEN 'no' ELSE 'yes' END
         WHEN 'scale' THEN CAST(1 + (r.id * 2654435761 + q.n * 40503) % 10 AS TEXT)
         WHEN 'experience' THEN CASE r.id % 3 WHEN 0 THEN 'none' WHEN 1 THEN 'under_1'
                                ELSE 'years_1_3' END
         ELSE CASE q.n % 3 WHEN 0 THEN 'Школа № ' || (r.id % 300) || ', кружок "Робототехника"'
                           WHEN 1 THEN 'Поддержка наставника; советы, встречи'
                           ELSE '=Больше встреч' END
       END
FROM responses r JOIN q ON q.survey_id = r.survey_id
WHERE q.kind <> 'text' OR (r.id + q.n) % 3 = 0;
-- Scale scores of 1-10 from a hash of the response; finals a little higher than entries.
INSERT INTO response_scores(response_id, scale_id, value, items)
SELECT r.id, s.name,
       min(10, 1 + ((r.id * 2654435761 + s.k * 40503) % 90) / 10.0
               + (r.survey_id LIKE '%-final') * 0.8), 3
FROM responses r,
     (SELECT 'motivation' name, 1 k UNION ALL SELECT 'competence', 2
      UNION ALL SELECT 'satisfaction', 3) s;
-- The open campaigns whose links the submission benchmark answers: open whatever the date.
INSERT INTO campaigns(id, code, survey_id, org_id, period, wave, role, form, opens, closes,
                      status, created_at) VALUES
 (101, 'bench-open-1', 'mentee-final', 1, '2026/27', 'none', NULL, NULL, '2000-01-01',
  '2099-12-31', 'open', '2026-11-01T00:00:00Z'),
 (102, 'bench-open-2', 'mentee-final', 1, '2026/27', 'none', NULL, NULL, '2000-01-01',
  '2099-12-31', 'open', '2026-11-01T00:00:00Z');
INSERT INTO invitations(id, token, participant_id, campaign_id, survey_id, created_at)
SELECT 2000000 + (c.id - 101) * 100000 + p.id, 'open' || printf('%018d', 2000000 + (c.id - 101) * 100000 + p.id),
       p.id, c.id, 'mentee-final', '2026-11-01T00:00:00Z'
FROM participants p, campaigns c WHERE c.id IN (101, 102);
COMMIT;
ANALYZE;
