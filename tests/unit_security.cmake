vz_add_test(unit_security SOURCES unit_security.c LABELS unit container INTERNAL)
