SELECT month, place_id AS venue_id, min(place_name) AS venue_name, min(cell_id) AS cell_id,
       count(*) FILTER (WHERE source = 'ed') AS ed_assaults,
       count(*) FILTER (WHERE source IN ('police', 'police_uk')) AS police_violence
FROM joint_incidents
WHERE place_status = 'venue'
GROUP BY month, place_id
ORDER BY month, venue_id
