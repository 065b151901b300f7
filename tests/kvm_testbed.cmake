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

# vz_add_svm_test(NAME TARGET [ARGS...]): run test program TARGET inside the testbed with
# the VM backend, as test NAME. Test programs have absolute paths compiled in (rootfs,
# guest kernel) and find libvz.so in the build tree by RUNPATH, so the testbed puts each
# at the same path. TARGET may be defined later in this directory (e.g. in vm.cmake).
function(vz_add_svm_test name target)
	set(args --timeout 1100 --mem 4096 --env VZ_TEST_BACKEND=vm
		--copy $<TARGET_FILE:${target}>
		--copy $<TARGET_FILE:vz> --copy $<TARGET_SONAME_FILE:vz> --copy $<TARGET_LINKER_FILE:vz>
		--copy ${VZ_TEST_ROOTFS})
	if(VZ_GUEST_KERNEL)
		list(APPEND args --copy ${VZ_GUEST_KERNEL} --env VZ_KERNEL=${VZ_GUEST_KERNEL})
	endif()
	foreach(path IN LISTS VZ_KVM_TESTBED_COPY)
		list(APPEND args --copy ${path})
	endforeach()
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
	vz_add_svm_test(vm_svm vm)
endif()
