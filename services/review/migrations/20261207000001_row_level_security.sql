-- Row-level security on every center-scoped table (services/README.md,
-- "Row-level security"). FORCE, because the owner role is not a superuser
-- and would otherwise pass unchecked; every policy's predicate is the shared
-- center_visible() (common migration 20).
--
-- Center-scoped: review_cases, and what belongs to one case: case_actions
-- and timers, which get a center_id column of their own filled from their
-- case (a case's first timers are written in the same statement as the
-- case, where a policy joining to the parent could not see it), kept equal
-- to the case's by a foreign key on (case_id, center_id).
--
-- Shared: outbox, inbox, audit_log, notifications (system work for every
-- center).

-- Runs as the owner, which the forced policies hold too: the backfill acts
-- for every center.
SELECT set_config('app.all_centers', 'on', true);

ALTER TABLE review_cases ADD CONSTRAINT review_cases_id_center UNIQUE (id, center_id);

ALTER TABLE case_actions ADD COLUMN center_id TEXT;
UPDATE case_actions a SET center_id = c.center_id FROM review_cases c WHERE c.id = a.case_id;
ALTER TABLE case_actions ALTER COLUMN center_id SET NOT NULL;
ALTER TABLE case_actions ADD CONSTRAINT case_actions_case_center
    FOREIGN KEY (case_id, center_id) REFERENCES review_cases (id, center_id);

ALTER TABLE timers ADD COLUMN center_id TEXT;
UPDATE timers t SET center_id = c.center_id FROM review_cases c WHERE c.id = t.case_id;
ALTER TABLE timers ALTER COLUMN center_id SET NOT NULL;
ALTER TABLE timers ADD CONSTRAINT timers_case_center
    FOREIGN KEY (case_id, center_id) REFERENCES review_cases (id, center_id);

ALTER TABLE review_cases ENABLE ROW LEVEL SECURITY;
ALTER TABLE review_cases FORCE ROW LEVEL SECURITY;
CREATE POLICY center_scope ON review_cases
    USING (center_visible(center_id)) WITH CHECK (center_visible(center_id));

ALTER TABLE case_actions ENABLE ROW LEVEL SECURITY;
ALTER TABLE case_actions FORCE ROW LEVEL SECURITY;
CREATE POLICY center_scope ON case_actions
    USING (center_visible(center_id)) WITH CHECK (center_visible(center_id));

ALTER TABLE timers ENABLE ROW LEVEL SECURITY;
ALTER TABLE timers FORCE ROW LEVEL SECURITY;
CREATE POLICY center_scope ON timers
    USING (center_visible(center_id)) WITH CHECK (center_visible(center_id));
