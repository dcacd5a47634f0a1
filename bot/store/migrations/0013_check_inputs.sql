-- What a unit's last check read (its snapshot, its earlier periods' snapshots, the poll's error,
-- the coordinator's decision, the schema and the rules' code), as one hash: a check whose inputs
-- are all the same keeps the stored outcome instead of evaluating the rules again.
ALTER TABLE unit_states ADD COLUMN inputs_key TEXT;
