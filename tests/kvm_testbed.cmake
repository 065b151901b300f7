# KVM self-checks, and the tests run against a real kvm_amd (AMD SVM with nested paging)
# inside QEMU's emulator: tools/kvm-testbed (see its README.md). Label kvm; the testbed
# ones also kvm_testbed (ctest -LE kvm_testbed leaves them out). They skip (77) where
# QEMU or Debian's kernel package cannot be had; VZ_TEST_REQUIRE naming kvm_testbed makes
# that skip fail, as "kvm" does for kvmcheck on the host.
set(VZ_KVM_TESTBED ${PROJECT_SOURCE_DIR}/tools/kvm-testbed/run.sh)
set(VZ_KVM_TESTBED_COPY "" CACHE STRING
	"More paths to copy into the KVM testbed for the tests run there (list)")

# kvmcheck: raw KVM self-check (a real-mode guest doing out and hlt), no libvz.
add_executable(kvmcheck ${PROJECT_SOURCE_DIR}/tools/kvm-testbed/kvmcheck.c)
target_include_directories(kvmcheck PRIVATE ${PROJECT_SOURCE_DIR}/tests)

# On this host's /dev/kvm, whatever kind it is (skips without one).
add_test(NAME kvm_host_selfcheck COMMAND kvmcheck)
set_tests_properties(kvm_host_selfcheck PROPERTIES LABELS kvm SKIP_RETURN_CODE 77 TIMEOUT 120)

# Inside the testbed, where it must find kvm_amd with nested paging.
add_test(NAME kvm_testbed_selfcheck COMMAND ${VZ_KVM_TESTBED} --timeout 1100
	--copy $<TARGET_FILE:kvmcheck> -- $<TARGET_FILE:kvmcheck> --expect kvm_amd --tdp)
set_tests_properties(kvm_testbed_selfcheck PROPERTIES LABELS "kvm;kvm_testbed"
	SKIP_RETURN_CODE 77 TIMEOUT 1200)

# vz_testbed_copy(OUT TARGET): the --copy arguments that put test program TARGET into
# the testbed with what it needs. Test programs have absolute paths compiled in (rootfs,
# guest kernel) and find libvz.so in the build tree by RUNPATH, so the testbed puts each
# at the same path. TARGET may be defined later in this directory (e.g. in vm.cmake).
function(vz_testbed_copy out target)
	set(args --copy $<TARGET_FILE:${target}>
		--copy $<TARGET_FILE:vz> --copy $<TARGET_SONAME_FILE:vz> --copy $<TARGET_LINKER_FILE:vz>
		--copy ${VZ_TEST_ROOTFS})
	foreach(path IN LISTS VZ_TESTBED_BUILT_COPY VZ_KVM_TESTBED_COPY)
		list(APPEND args --copy ${path})
	endforeach()
	set(${out} ${args} PARENT_SCOPE)
endfunction()

# vz_add_svm_test(NAME TARGET [ARGS...]): run test program TARGET inside the testbed with
# the VM backend, as test NAME. vz_svm_testbed_args, when set, adds options of run.sh.
function(vz_add_svm_test name target)
	vz_testbed_copy(copy ${target})
	set(args --timeout 1100 --mem 4096 --env VZ_TEST_BACKEND=vm --env VZ_TEST_SLOW_IO=1 ${copy}
		${vz_svm_testbed_args})
	if(VZ_GUEST_KERNEL)
		list(APPEND args --copy ${VZ_GUEST_KERNEL} --env VZ_KERNEL=${VZ_GUEST_KERNEL})
	endif()
	add_test(NAME ${name} COMMAND ${VZ_KVM_TESTBED} ${args} -- $<TARGET_FILE:${target}> ${ARGN})
	set_tests_properties(${name} PROPERTIES LABELS "kvm;kvm_testbed"
		SKIP_RETURN_CODE 77 TIMEOUT 1200)
endfunction()

# The conformance suite's VM backend on SVM (conformance.cmake is included before this
# file: tests/CMakeLists.txt includes the parts in name order).
if(TARGET conformance AND VZ_WITH_KVM)
	vz_add_svm_test(conformance_vm_svm conformance)
	set_property(TEST conformance_vm_svm APPEND PROPERTY LABELS conformance)
endif()

# The VM-only tests on SVM too (vm.cmake sorts after this file; the target is resolved
# at generate time).
if(VZ_WITH_KVM)
	# Ten nested VMs at once: twice in about 25 runs on 2026-12-06 the emulated machine
	# stopped making progress altogether (even a timer in the outer guest never fired;
	# the same program passed on every other run, in ~20 s). A run that reports nothing
	# within 300 s boots again, at most twice; a reported failure is never retried.
	set(vz_svm_testbed_args --timeout 300 --retry-stuck 2)
	vz_add_svm_test(vm_svm vm)
	# Debian's own kernel and module tree as the guest kernel (refused at create: its
	# virtio_mmio cannot be told the devices; docs/vm.md).
	set(vz_svm_testbed_args --stock-kernel)
	vz_add_svm_test(vm_stock_kernel_svm vm stock_kernel)
	unset(vz_svm_testbed_args)
endif()

# The testbed's guest is also this project's cgroup v2 host (the build hosts are cgroup v1
# hybrids): Debian's 6.1 kernel with cgroup2 on /sys/fs/cgroup, every controller enabled
# at the root, overlay loaded (tools/kvm-testbed/init). The conformance suite runs there
# on the container backend; on-cgroup2.sh fails the test unless that is what it found.
if(TARGET conformance AND VZ_WITH_CONTAINER)
	set(vz_on_cgroup2 ${PROJECT_SOURCE_DIR}/tools/kvm-testbed/on-cgroup2.sh)
	vz_testbed_copy(copy conformance)
	add_test(NAME conformance_container_v2 COMMAND ${VZ_KVM_TESTBED} --timeout 1100
		--mem 2048 --env VZ_TEST_BACKEND=container --env VZ_TEST_SLOW_IO=1 ${copy}
		--copy ${vz_on_cgroup2}
		-- sh ${vz_on_cgroup2} $<TARGET_FILE:conformance>)
	set_tests_properties(conformance_container_v2 PROPERTIES
		LABELS "kvm;kvm_testbed;conformance;container" SKIP_RETURN_CODE 77 TIMEOUT 1200)
endif()
