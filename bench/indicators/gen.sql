-- The data of the indicators benchmark (bench/indicators/run.sh): a region of 300
-- organisations (20 municipalities of 14 schools and 1 enterprise), 500,100 participants
-- in pairs, their reference figures, and 1,000,200 responses to the four questionnaires of
-- 2026/27 (entry and final, mentees and mentors) with the scale scores the questionnaires
-- compute, and one item per final response. Run on a database made by `anketa init`: the
-- responses' scores reach indicator_scores through the schema's triggers, as in production.
PRAGMA foreign_keys = OFF;
PRAGMA synchronous = OFF;
PRAGMA cache_size = -400000;
BEGIN;
INSERT INTO orgs(id, parent_id, level, code, name, kind)
VALUES (1, NULL, 'region', 'bench-region', 'Bench region', NULL);
WITH RECURSIVE m(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM m WHERE i < 20)
INSERT INTO orgs(id, parent_id, level, code, name, kind)
SELECT 1 + i, 1, 'municipality', 'bench-mun-' || i, 'Municipality ' || i, NULL FROM m;
-- Organisation i belongs to municipality i / 15; the 15th of each is an enterprise.
WITH RECURSIVE o(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM o WHERE i < 299)
INSERT INTO orgs(id, parent_id, level, code, name, kind)
SELECT 100 + i, 2 + i / 15, 'organisation', 'bench-org-' || i, 'Organisation ' || i,
       CASE WHEN i % 15 = 14 THEN 'enterprise' ELSE 'school' END FROM o;
WITH RECURSIVE o(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM o WHERE i < 299)
INSERT INTO programmes(id, org_id, code, form, title, year)
SELECT 1000 + i, 100 + i, 'bench-prog-' || i,
       CASE i % 3 WHEN 0 THEN 'pupil-pupil' WHEN 1 THEN 'student-pupil' ELSE 'employer-pupil' END,
       'Programme ' || i, 2026 FROM o;
INSERT INTO figures(org_id, period, name, value)
SELECT o.id, '2026/27', f.name, f.v FROM orgs o,
       (SELECT 'pupils_10_18' name, 2400 v UNION ALL SELECT 'pupils_15_18', 900
        UNION ALL SELECT 'teachers_0_3', 30) f
WHERE o.kind = 'school';
INSERT INTO figures(org_id, period, name, value)
SELECT id, '2026/27', 'partner_orgs', 120 FROM orgs WHERE level = 'municipality';
-- 1667 participants per organisation (id = org * 10000 + j): in a school, mentees j < 1200
-- (every 50th a young teacher), mentors after; in an enterprise, employers who mentor.
WITH RECURSIVE k(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM k WHERE j < 1666)
INSERT INTO participants(id, code, org_id, programme_id, role, kind, birth_year,
                         experience_years, consent_date)
SELECT o.id * 10000 + j, 'b-' || o.id || '-' || j, o.id, o.id - 100 + 1000,
       CASE WHEN j < 1200 AND o.kind = 'school' THEN 'mentee' ELSE 'mentor' END,
       CASE WHEN o.kind = 'enterprise' THEN 'employer' WHEN j % 50 = 7 THEN 'teacher'
            ELSE 'pupil' END,
       CASE WHEN o.kind = 'enterprise' OR j % 50 = 7 THEN NULL ELSE 2006 + (j * 7) % 12 END,
       CASE WHEN j % 50 = 7 THEN j % 6 ELSE NULL END, '2026-09-01'
FROM orgs o, k WHERE o.level = 'organisation';
-- Each mentee with a mentor of the school (three mentees each), from September 2026.
INSERT INTO pairs(programme_id, mentor_id, mentee_id, starts, ends, status)
SELECT programme_id, org_id * 10000 + 1200 + (id % 10000) / 3, id, '2026-09-20',
       CASE WHEN id % 10 = 0 THEN '2027-05-25' END,
       CASE WHEN id % 10 = 0 THEN CASE WHEN id % 20 = 0 THEN 'broken' ELSE 'finished' END
            ELSE 'active' END
FROM participants WHERE role = 'mentee';
-- Each enterprise's first 100 employers mentor pupils of the school before it.
INSERT INTO pairs(programme_id, mentor_id, mentee_id, starts, ends, status)
SELECT p.programme_id, p.id, (p.org_id - 1) * 10000 + 1000 + p.id % 10000, '2026-10-01', NULL,
       'active'
FROM participants p JOIN orgs o ON o.id = p.org_id
WHERE o.kind = 'enterprise' AND p.id % 10000 < 100;
INSERT INTO campaigns(id, code, survey_id, org_id, period, wave, role, form, opens, closes,
                      status, created_at) VALUES
 (1, 'bench-mentee-entry', 'mentee-entry', 1, '2026/27', 'entry', 'mentee', NULL,
  '2026-09-20', '2026-10-20', 'closed', '2026-09-20T00:00:00Z'),
 (2, 'bench-mentee-final', 'mentee-final', 1, '2026/27', 'final', 'mentee', NULL,
  '2027-05-10', '2027-05-31', 'closed', '2027-05-10T00:00:00Z'),
 (3, 'bench-mentor-entry', 'mentor-entry', 1, '2026/27', 'entry', 'mentor', NULL,
  '2026-09-20', '2026-10-20', 'closed', '2026-09-20T00:00:00Z'),
 (4, 'bench-mentor-final', 'mentor-final', 1, '2026/27', 'final', 'mentor', NULL,
  '2027-05-10', '2027-05-31', 'closed', '2027-05-10T00:00:00Z');
INSERT INTO invitations(id, token, participant_id, campaign_id, survey_id, created_at)
SELECT p.id * 2 + w.e, 'bench' || (p.id * 2 + w.e), p.id,
       CASE WHEN p.role = 'mentee' THEN 1 ELSE 3 END + w.e,
       CASE WHEN p.role = 'mentee' THEN 'mentee-' ELSE 'mentor-' END ||
       CASE w.e WHEN 0 THEN 'entry' ELSE 'final' END, '2026-09-20T00:00:00Z'
FROM participants p, (SELECT 0 e UNION ALL SELECT 1) w;
INSERT INTO responses(id, invitation_id, survey_id, survey_version, survey_hash, submitted_at)
SELECT id, id, survey_id, 1, 'bench', '2027-05-20T10:00:00Z' FROM invitations;
-- Scores of 1-10 spread by a hash of the response; finals a little higher than entries.
INSERT INTO response_scores(response_id, scale_id, value, items)
SELECT r.id, s.name,
       min(10, 1 + ((r.id * 2654435761 + s.k * 40503) % 90) / 10.0 + (r.id % 2) * 0.8), 3
FROM responses r,
     (SELECT 'motivation' name, 1 k UNION ALL SELECT 'competence', 2
      UNION ALL SELECT 'satisfaction', 3) s
WHERE s.name <> 'satisfaction' OR r.survey_id LIKE '%-final';
INSERT INTO answers(response_id, question_id, value)
SELECT id, 'joint_work', CAST(1 + id % 10 AS TEXT) FROM responses
WHERE survey_id LIKE '%-final';
COMMIT;
