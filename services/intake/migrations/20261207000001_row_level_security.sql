-- Row-level security on every center-scoped table (services/README.md,
-- "Row-level security"). FORCE, because the owner role is not a superuser
-- and would otherwise pass unchecked; the policy's predicate is the shared
-- center_visible() (common migration 20).
--
-- Center-scoped: applications (center_id), and what belongs to one
-- application: timeline_entries and materials. Those two have no center
-- column of their own; their policy asks whether the parent application is
-- visible, and since that subquery is itself under applications' policy, a
-- child row is visible (and may be written) exactly when its application
-- is. A new child table should rather carry center_id (cheaper, and the
-- catalog test sees it); these two predate the wall.
--
-- Shared, not center-scoped (the district's reference data and the
-- service's own machinery, read for every center): centers, service_types,
-- service_type_history, departments; public_lookup_guesses (counts wrong
-- guesses per application number, keyed by the number the public typed,
-- before anyone knows a center); outbox, inbox, audit_log, notifications
-- (system work: the relay and consumers act for every center).
ALTER TABLE applications ENABLE ROW LEVEL SECURITY;
ALTER TABLE applications FORCE ROW LEVEL SECURITY;
CREATE POLICY center_scope ON applications
    USING (center_visible(center_id))
    WITH CHECK (center_visible(center_id));

ALTER TABLE timeline_entries ENABLE ROW LEVEL SECURITY;
ALTER TABLE timeline_entries FORCE ROW LEVEL SECURITY;
CREATE POLICY center_scope ON timeline_entries
    USING (EXISTS (SELECT 1 FROM applications a WHERE a.id = application_id))
    WITH CHECK (EXISTS (SELECT 1 FROM applications a WHERE a.id = application_id));

ALTER TABLE materials ENABLE ROW LEVEL SECURITY;
ALTER TABLE materials FORCE ROW LEVEL SECURITY;
CREATE POLICY center_scope ON materials
    USING (EXISTS (SELECT 1 FROM applications a WHERE a.id = application_id))
    WITH CHECK (EXISTS (SELECT 1 FROM applications a WHERE a.id = application_id));
