-- Incidents per cell at each declared resolution over each rolling window ending with the month.
-- `window_incidents` is the month's joint rows and the earlier months' (warehouse/tables.py),
-- `cell_areas` maps each cell to itself and its coarser parents, `hotspot_windows` lists the
-- windows. The rows are first counted per month and finest cell (`cell_figures`, as hotspot_cells),
-- then those figures merged into areas and windows (a figure's parts add up: counts, record keys
-- modulo 2^29, public counts).
-- months_available, and the months each source shared, are counted per window, never per cell
-- (which would tell in how many months a cell had an incident). A source that shared nothing in
-- any month of the window has no count there (not_available_reason, as in hotspot_cells): its
-- figure is NULL and combined is the other source's records.
WITH latest AS (SELECT max(month) AS month FROM joint_incidents),
windows AS (
    SELECT w.window_months, latest.month, latest.month - to_months(w.window_months) AS after
    FROM hotspot_windows AS w CROSS JOIN latest
),
shared AS (
    SELECT month, bool_or(source = 'ed') AS ed, bool_or(source IN ('police', 'police_uk')) AS police
    FROM window_incidents
    GROUP BY month
),
available AS (
    SELECT w.window_months, count(m.month) AS months_available,
           count(m.month) FILTER (WHERE m.ed) AS ed_months_available,
           count(m.month) FILTER (WHERE m.police) AS police_months_available
    FROM windows AS w
    LEFT JOIN shared AS m ON m.month > w.after AND m.month <= w.month
    GROUP BY w.window_months
)
SELECT w.month, w.window_months, v.months_available, v.ed_months_available, v.police_months_available,
       CASE WHEN v.ed_months_available = 0 THEN 'no_ed_data_in_window'
            WHEN v.police_months_available = 0 THEN 'no_police_data_in_window' END AS not_available_reason,
       a.resolution, a.area_id AS cell_id,
       merged_figure(c.ed_assaults) AS ed_assaults,
       merged_figure(c.police_violence) AS police_violence,
       merged_figure(c.combined) AS combined
FROM cell_figures('window_incidents') AS c
JOIN windows AS w ON c.month > w.after AND c.month <= w.month
JOIN available AS v ON v.window_months = w.window_months
JOIN cell_areas AS a ON a.cell_id = c.cell_id
GROUP BY ALL
