# VM-only tests (bad kernels, hostile guests, panic, kill during boot, ten at once).
# Boots take tens of seconds on kvm_pvm hosts, hence the long timeout.
vz_add_test(vm SOURCES vm.c LABELS kvm TIMEOUT 2400)
