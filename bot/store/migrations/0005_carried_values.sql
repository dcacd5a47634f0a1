-- The values carried into a new report from the unit's previous one at provisioning, so a
-- workbook holding only those still counts as not opened.
ALTER TABLE sheets ADD COLUMN carried_json TEXT NOT NULL DEFAULT '{}';
