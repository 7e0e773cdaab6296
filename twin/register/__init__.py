"""The asset register: classes as data, PostGIS tables with history, import and export."""
