-- Row-level security on every center-scoped table (services/README.md,
-- "Row-level security"). FORCE, because the owner role is not a superuser
-- and would otherwise pass unchecked; the predicate is the shared
-- center_visible() (common migration 20).
--
-- Center-scoped: review_cases (center_id), and what belongs to one case:
-- case_actions and timers, whose policy asks whether the parent case is
-- visible (that subquery is itself under review_cases' policy). A new child
-- table should rather carry center_id; these two predate the wall.
--
-- Shared: outbox, inbox, audit_log, notifications (system work for every
-- center).
ALTER TABLE review_cases ENABLE ROW LEVEL SECURITY;
ALTER TABLE review_cases FORCE ROW LEVEL SECURITY;
CREATE POLICY center_scope ON review_cases
    USING (center_visible(center_id))
    WITH CHECK (center_visible(center_id));

ALTER TABLE case_actions ENABLE ROW LEVEL SECURITY;
ALTER TABLE case_actions FORCE ROW LEVEL SECURITY;
CREATE POLICY center_scope ON case_actions
    USING (EXISTS (SELECT 1 FROM review_cases c WHERE c.id = case_id))
    WITH CHECK (EXISTS (SELECT 1 FROM review_cases c WHERE c.id = case_id));

ALTER TABLE timers ENABLE ROW LEVEL SECURITY;
ALTER TABLE timers FORCE ROW LEVEL SECURITY;
CREATE POLICY center_scope ON timers
    USING (EXISTS (SELECT 1 FROM review_cases c WHERE c.id = case_id))
    WITH CHECK (EXISTS (SELECT 1 FROM review_cases c WHERE c.id = case_id));
