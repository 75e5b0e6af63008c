-- History rows written before 0001 carry no description/schema. A key's latest row left the
-- entry as it is now, so it takes the entry's settings; older rows stay null (unknown).
UPDATE "history" h
SET "description" = e."description", "schema" = e."schema"
FROM "entries" e
WHERE e."namespace" = h."namespace" AND e."key" = h."key" AND e."version" = h."version";
