vz_add_test(unit_api SOURCES unit_api.c LABELS unit container)
