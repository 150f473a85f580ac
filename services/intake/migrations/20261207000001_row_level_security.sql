-- Row-level security on every center-scoped table (services/README.md,
-- "Row-level security"). FORCE, because the owner role is not a superuser
-- and would otherwise pass unchecked; every policy's predicate is the shared
-- center_visible() (common migration 20).
--
-- Center-scoped: applications, and what belongs to one application:
-- timeline_entries and materials. Those get a center_id column of their own
-- (filled from their application), rather than a policy that joins to the
-- parent: a child written in the same statement as its parent (a
-- submission's first timeline entry) cannot see the parent from a policy
-- subquery, each row is checked alone, and the catalog test finds the
-- column. A foreign key on (application_id, center_id) keeps the copy equal
-- to the parent's.
--
-- Shared, not center-scoped (the district's reference data and the
-- service's own machinery, read for every center): centers, service_types,
-- service_type_history, departments; public_lookup_guesses (counts wrong
-- guesses per application number, keyed by the number the public typed,
-- before anyone knows a center); outbox, inbox, audit_log, notifications
-- (system work: the relay and consumers act for every center).

-- This migration runs as the owner, which the forced policies below hold
-- too once enabled: the backfill acts for every center.
SELECT set_config('app.all_centers', 'on', true);

ALTER TABLE applications ADD CONSTRAINT applications_id_center UNIQUE (id, center_id);

ALTER TABLE timeline_entries ADD COLUMN center_id TEXT;
UPDATE timeline_entries t SET center_id = a.center_id FROM applications a WHERE a.id = t.application_id;
ALTER TABLE timeline_entries ALTER COLUMN center_id SET NOT NULL;
ALTER TABLE timeline_entries ADD CONSTRAINT timeline_entries_application_center
    FOREIGN KEY (application_id, center_id) REFERENCES applications (id, center_id);

ALTER TABLE materials ADD COLUMN center_id TEXT;
UPDATE materials m SET center_id = a.center_id FROM applications a WHERE a.id = m.application_id;
ALTER TABLE materials ALTER COLUMN center_id SET NOT NULL;
ALTER TABLE materials ADD CONSTRAINT materials_application_center
    FOREIGN KEY (application_id, center_id) REFERENCES applications (id, center_id);

ALTER TABLE applications ENABLE ROW LEVEL SECURITY;
ALTER TABLE applications FORCE ROW LEVEL SECURITY;
CREATE POLICY center_scope ON applications
    USING (center_visible(center_id)) WITH CHECK (center_visible(center_id));

ALTER TABLE timeline_entries ENABLE ROW LEVEL SECURITY;
ALTER TABLE timeline_entries FORCE ROW LEVEL SECURITY;
CREATE POLICY center_scope ON timeline_entries
    USING (center_visible(center_id)) WITH CHECK (center_visible(center_id));

ALTER TABLE materials ENABLE ROW LEVEL SECURITY;
ALTER TABLE materials FORCE ROW LEVEL SECURITY;
CREATE POLICY center_scope ON materials
    USING (center_visible(center_id)) WITH CHECK (center_visible(center_id));
