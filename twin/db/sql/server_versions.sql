SELECT current_setting('server_version'), postgis_lib_version(), postgis_geos_version(),
       postgis_proj_version()
