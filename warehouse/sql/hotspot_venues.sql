-- Police records can be placed at a venue only from a location description (`not_available`,
-- not_available.sql, says when the month's police records have none).
WITH venues AS (
    SELECT month, place_id AS venue_id, min(place_name) AS venue_name, min(cell_id) AS cell_id,
           figure(source = 'ed', is_public, record_key) AS ed_assaults,
           figure(source IN ('police', 'police_uk'), is_public, record_key) AS police_violence
    FROM joint_incidents
    WHERE place_status = 'venue'
    GROUP BY month, place_id
)
SELECT venues.*, n.police_venues AS not_available_reason
FROM venues
LEFT JOIN not_available AS n ON n.month = venues.month
ORDER BY venues.month, venues.venue_id
