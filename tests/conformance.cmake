# One program, one ctest entry per backend, so a run can leave one out (the sanitizer
# build skips the VM rows: they cost a guest boot each, tens of seconds on kvm_pvm).
vz_add_test(conformance SOURCES conformance.c LABELS conformance container TIMEOUT 900)
set_tests_properties(conformance PROPERTIES ENVIRONMENT "VZ_TEST_BACKEND=container")
add_test(NAME conformance_vm COMMAND conformance)
set_tests_properties(conformance_vm PROPERTIES LABELS "conformance;kvm" SKIP_RETURN_CODE 77
	TIMEOUT 3600 ENVIRONMENT "VZ_TEST_BACKEND=vm;VZ_KERNEL=${VZ_GUEST_KERNEL}")
# The same suite as an unprivileged user (uid 65534 through setpriv): the container
# backend then runs in a user namespace; scenarios needing cgroup limits skip.
find_program(VZ_SETPRIV setpriv)
if(VZ_SETPRIV)
	set(unpriv "${VZ_SETPRIV} --reuid=65534 --regid=65534 --clear-groups")
	# A checkout below a private directory (e.g. /root) cannot be read by that user.
	add_test(NAME conformance_unprivileged COMMAND sh -c
		"${unpriv} test -x \"$1\" -a -r ${VZ_TEST_ROOTFS}/bin/busybox || { echo '1..0 # SKIP the build tree is not readable by uid 65534'; exit 77; }; exec ${unpriv} \"$1\""
		sh $<TARGET_FILE:conformance>)
	set_tests_properties(conformance_unprivileged PROPERTIES LABELS "conformance;container"
		SKIP_RETURN_CODE 77 TIMEOUT 900 ENVIRONMENT "VZ_TEST_BACKEND=container")
endif()
