vz_add_test(conformance SOURCES conformance.c LABELS conformance container kvm TIMEOUT 900)
