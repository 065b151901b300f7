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

# vz-probe: a static program the isolation cases bind into the sandbox (the test rootfs
# has no libc). Built with the compiler directly, never with this build's sanitizers.
set(VZ_TEST_PROBE_DIR ${CMAKE_CURRENT_BINARY_DIR}/probe)
add_custom_command(OUTPUT ${VZ_TEST_PROBE_DIR}/vz-probe
	COMMAND ${CMAKE_COMMAND} -E make_directory ${VZ_TEST_PROBE_DIR}
	COMMAND ${CMAKE_C_COMPILER} -static -O2 -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror
		-o ${VZ_TEST_PROBE_DIR}/vz-probe ${CMAKE_CURRENT_SOURCE_DIR}/vz-probe.c
	DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/vz-probe.c
	COMMENT "Building the static vz-probe"
	VERBATIM)
# vz-fsprobe: mmap, flock/fcntl locks, non-blocking opens and a bare rename(2), which
# busybox lacks, for the file system scenarios.
add_custom_command(OUTPUT ${VZ_TEST_PROBE_DIR}/vz-fsprobe
	COMMAND ${CMAKE_COMMAND} -E make_directory ${VZ_TEST_PROBE_DIR}
	COMMAND ${CMAKE_C_COMPILER} -static -O2 -std=gnu11 -D_GNU_SOURCE
		-Wall -Wextra -Werror -o ${VZ_TEST_PROBE_DIR}/vz-fsprobe
		${CMAKE_CURRENT_SOURCE_DIR}/vz-fsprobe.c
	DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/vz-fsprobe.c
	COMMENT "Building the static vz-fsprobe"
	VERBATIM)
add_custom_target(vz_probe DEPENDS ${VZ_TEST_PROBE_DIR}/vz-probe ${VZ_TEST_PROBE_DIR}/vz-fsprobe)
add_dependencies(conformance vz_probe)
target_compile_definitions(conformance PRIVATE VZ_TEST_PROBE_DIR="${VZ_TEST_PROBE_DIR}")
# The testbed runs (tests/kvm_testbed.cmake) need it at the same path. A list of its
# own: the first configure's set(CACHE) of VZ_KVM_TESTBED_COPY would drop a normal
# variable of that name (CMake before 3.21, policy CMP0126).
list(APPEND VZ_TESTBED_BUILT_COPY ${VZ_TEST_PROBE_DIR})
