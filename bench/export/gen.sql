-- The data of the export benchmark (bench/export/run.sh): a region of 20 municipalities and
-- 300 schools, 1,000,000 mentees, and one response of each to mentee-final: 19 to 21
-- answers (yes/no, ten 1-10 scales, six matrix items, Cyrillic texts in some, one text in
-- seven that starts with '=') and the three scale scores. Run on a database made by
-- `anketa init`; the scores reach indicator_scores through the schema's triggers.
PRAGMA foreign_keys = OFF;
PRAGMA synchronous = OFF;
PRAGMA cache_size = -400000;
BEGIN;
INSERT INTO orgs(id, parent_id, level, code, name, kind)
VALUES (1, NULL, 'region', 'bench-region', 'Область для замеров', NULL);
WITH RECURSIVE m(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM m WHERE i < 20)
INSERT INTO orgs(id, parent_id, level, code, name, kind)
SELECT 1 + i, 1, 'municipality', 'bench-mun-' || i, 'Муниципалитет ' || i, NULL FROM m;
WITH RECURSIVE o(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM o WHERE i < 299)
INSERT INTO orgs(id, parent_id, level, code, name, kind)
SELECT 100 + i, 2 + i / 15, 'organisation', 'bench-sch-' || i, 'Школа № ' || i, 'school' FROM o;
WITH RECURSIVE o(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM o WHERE i < 299)
INSERT INTO programmes(id, org_id, code, form, title, year)
SELECT 1000 + i, 100 + i, 'bench-prog-' || i,
       CASE i % 2 WHEN 0 THEN 'pupil-pupil' ELSE 'student-pupil' END, 'Программа ' || i, 2026
FROM o;
WITH RECURSIVE k(j) AS (SELECT 1 UNION ALL SELECT j + 1 FROM k WHERE j < 1000000)
INSERT INTO participants(id, code, org_id, programme_id, role, kind, birth_year, consent_date)
SELECT j, 'B-' || j, 100 + j % 300, 1000 + j % 300, 'mentee', 'pupil', 2008 + j % 9,
       '2026-09-01'
FROM k;
INSERT INTO campaigns(id, code, survey_id, org_id, period, wave, role, form, opens, closes,
                      status, created_at)
VALUES (1, 'bench-mentee-final', 'mentee-final', 1, '2026/27', 'final', 'mentee', NULL,
        '2027-05-10', '2027-05-31', 'closed', '2027-05-10T00:00:00Z');
INSERT INTO invitations(id, token, participant_id, campaign_id, survey_id, created_at)
SELECT id, 'bench' || id, id, 1, 'mentee-final', '2027-05-10T00:00:00Z' FROM participants;
INSERT INTO responses(id, invitation_id, survey_id, survey_version, survey_hash, submitted_at)
SELECT id, id, 'mentee-final', 1, 'bench',
       '2027-05-' || (10 + id % 20) || 'T' || printf('%02d', 8 + id % 12) || ':00:00Z'
FROM invitations;
-- Numeric answers of 1-10 spread by a hash of the response and the question.
WITH q(n, id, kind) AS (VALUES
  (0, 'met_before', 'yesno'), (1, 'met_where', 'text'), (2, 'effectiveness', 'scale'),
  (3, 'comfort', 'scale'), (4, 'group_meetings', 'scale'), (5, 'personal_meetings', 'scale'),
  (6, 'joint_work', 'scale'), (7, 'mentor_help', 'scale'), (8, 'plan_clarity', 'scale'),
  (9, 'support', 'scale'), (10, 'safety', 'scale'), (11, 'expectations', 'scale'),
  (12, 'valued', 'text'), (13, 'improve', 'text'), (14, 'continue_programme', 'yesno'),
  (15, 'become_mentor', 'yesno'), (16, 'self.goals', 'scale'), (17, 'self.interest', 'scale'),
  (18, 'self.effort', 'scale'), (19, 'self.planning', 'scale'), (20, 'self.skills', 'scale'),
  (21, 'self.teamwork', 'scale'))
INSERT INTO answers(response_id, question_id, value)
SELECT r.id, q.id,
       CASE q.kind
         WHEN 'yesno' THEN CASE WHEN (r.id + q.n) % 3 = 0 THEN 'no' ELSE 'yes' END
         WHEN 'scale' THEN CAST(1 + (r.id * 2654435761 + q.n * 40503) % 10 AS TEXT)
         WHEN 'text' THEN CASE q.n
           WHEN 1 THEN 'Школа № ' || r.id % 300 || ', кружок "Робототехника"'
           WHEN 12 THEN 'Поддержка наставника; советы, встречи'
           ELSE '=Больше встреч' END
       END
FROM responses r, q
WHERE q.kind <> 'text' OR (q.n = 1 AND r.id % 4 = 0) OR (q.n = 12 AND r.id % 5 = 0)
   OR (q.n = 13 AND r.id % 7 = 0);
INSERT INTO response_scores(response_id, scale_id, value, items)
SELECT a.response_id, s.id, avg(CAST(a.value AS REAL)), count(*)
FROM answers a JOIN (SELECT 'satisfaction' id, 'effectiveness' q UNION ALL
    SELECT 'satisfaction', 'comfort' UNION ALL SELECT 'satisfaction', 'group_meetings'
    UNION ALL SELECT 'satisfaction', 'personal_meetings' UNION ALL SELECT 'satisfaction', 'joint_work'
    UNION ALL SELECT 'satisfaction', 'mentor_help' UNION ALL SELECT 'satisfaction', 'plan_clarity'
    UNION ALL SELECT 'satisfaction', 'support' UNION ALL SELECT 'satisfaction', 'safety'
    UNION ALL SELECT 'satisfaction', 'expectations' UNION ALL SELECT 'motivation', 'self.goals'
    UNION ALL SELECT 'motivation', 'self.interest' UNION ALL SELECT 'motivation', 'self.effort'
    UNION ALL SELECT 'competence', 'self.planning' UNION ALL SELECT 'competence', 'self.skills'
    UNION ALL SELECT 'competence', 'self.teamwork') s ON s.q = a.question_id
GROUP BY a.response_id, s.id;
COMMIT;
ANALYZE;
