# libFuzzer targets for the code that reads what a hostile guest or a caller writes
# (tests/fuzz):
#   fuzz_virtq        split virtqueues (src/kvm/virtio/queue.c) over a guest memory image
#   fuzz_console_ctl  the console's control-message parser (vz_console_feed)
#   fuzz_fuse         the FUSE server (src/kvm/fuse/server.c) over a real host tree
#   fuzz_kmods        the modules.dep/modules.builtin reader (src/kvm/modules.c), caller input
#   fuzz_snapshot     a VM template's state file (src/kvm/snapshot.c, vz_tmpl_check in
#                     src/kvm/template.c), a file of the template cache
# They are built with clang -fsanitize=fuzzer,address,undefined from the sources directly,
# whatever compiler and sanitizers build the rest (the C compiler if it is clang, else
# clang from PATH, or VZ_FUZZ_CLANG). ctest runs each for VZ_FUZZ_SECONDS (label fuzz)
# over a fresh copy of its kept corpus, tests/fuzz/corpus/NAME, in the build tree (the
# source tree is never written); a crash, a hang, a leak or a violated check fails the
# test and leaves the input in <build>/tests/fuzz/NAME-artifacts/. Without clang or
# libFuzzer (Debian: clang, libclang-rt-14-dev) the tests skip (77), and fail where
# VZ_TEST_REQUIRE names "fuzz".
if(NOT VZ_WITH_KVM)
	return()
endif()

set(VZ_FUZZ_SECONDS 60 CACHE STRING "How long ctest runs each fuzz target, in seconds")
set(VZ_FUZZ_CLANG "" CACHE FILEPATH "clang for the fuzz targets (empty: search)")

set(vz_fuzz_cc ${VZ_FUZZ_CLANG})
if(NOT vz_fuzz_cc)
	if(CMAKE_C_COMPILER_ID MATCHES "Clang")
		set(vz_fuzz_cc ${CMAKE_C_COMPILER})
	else()
		find_program(VZ_FUZZ_CLANG_ON_PATH NAMES clang clang-19 clang-18 clang-17 clang-16
			clang-15 clang-14)
		mark_as_advanced(VZ_FUZZ_CLANG_ON_PATH)
		if(VZ_FUZZ_CLANG_ON_PATH)
			set(vz_fuzz_cc ${VZ_FUZZ_CLANG_ON_PATH})
		endif()
	endif()
endif()

# Whether that clang links a libFuzzer program (libclang-rt-NN-dev has the runtime).
set(vz_fuzz_dir ${CMAKE_CURRENT_BINARY_DIR}/fuzz)
set(vz_fuzz_why "")
if(NOT vz_fuzz_cc)
	set(vz_fuzz_why "no clang found (apt-get install clang libclang-rt-14-dev, or set VZ_FUZZ_CLANG)")
else()
	file(MAKE_DIRECTORY ${vz_fuzz_dir})
	file(WRITE ${vz_fuzz_dir}/probe.c
		"#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)\n{\n\treturn d && n > 1 ? d[0] == 1 : 0;\n}\n")
	execute_process(COMMAND ${vz_fuzz_cc} -fsanitize=fuzzer,address,undefined
		-o ${vz_fuzz_dir}/probe ${vz_fuzz_dir}/probe.c
		RESULT_VARIABLE vz_rc OUTPUT_QUIET ERROR_QUIET)
	if(NOT vz_rc EQUAL 0)
		set(vz_fuzz_why "${vz_fuzz_cc} cannot link -fsanitize=fuzzer (apt-get install libclang-rt-14-dev)")
	endif()
	# snapshot.c puts KVM's headers with a flexible array (struct kvm_msrs) at the start
	# of a buffer, a GNU extension clang warns about: allowed, where clang knows the flag.
	execute_process(COMMAND ${vz_fuzz_cc} -Werror -Wno-gnu-variable-sized-type-not-at-end
		-c -o ${vz_fuzz_dir}/probe.o ${vz_fuzz_dir}/probe.c
		RESULT_VARIABLE vz_rc OUTPUT_QUIET ERROR_QUIET)
	if(vz_rc EQUAL 0)
		set(vz_fuzz_no_vla_warn -Wno-gnu-variable-sized-type-not-at-end)
	endif()
endif()

set(vz_fuzz_headers ${PROJECT_SOURCE_DIR}/src/kvm/fuse/server.h ${PROJECT_SOURCE_DIR}/src/kvm/virtio/virtio.h
	${PROJECT_SOURCE_DIR}/src/kvm/virtio/console.h ${PROJECT_SOURCE_DIR}/src/kvm/sys.h
	${PROJECT_SOURCE_DIR}/src/kvm/devmgr.h ${PROJECT_SOURCE_DIR}/src/kvm/guest/abi.h
	${PROJECT_SOURCE_DIR}/src/kvm/modules.h ${PROJECT_SOURCE_DIR}/src/kvm/snapshot.h
	${PROJECT_SOURCE_DIR}/src/kvm/template.h ${PROJECT_SOURCE_DIR}/src/kvm/vm.h
	${PROJECT_SOURCE_DIR}/src/common/syscalls.h)
set(vz_fuzz_flags -g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined
	-fno-sanitize-recover=all -fno-omit-frame-pointer ${VZ_WARNINGS} ${vz_fuzz_no_vla_warn}
	-I${PROJECT_SOURCE_DIR}/src -I${PROJECT_SOURCE_DIR}/include -I${PROJECT_BINARY_DIR}/include)
set(vz_virtio ${PROJECT_SOURCE_DIR}/src/kvm/virtio)

# vz_fuzz(NAME MAX_LEN SOURCES...): build tests/fuzz/NAME.c with SOURCES; test fuzz_NAME.
function(vz_fuzz name max_len)
	set(corpus ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/${name})
	if(vz_fuzz_why)
		add_test(NAME ${name} COMMAND sh -c
			"case \",$VZ_TEST_REQUIRE,\" in *,fuzz,*) echo \"not ok - required feature fuzz unavailable: $1\"; exit 1;; esac; echo \"1..0 # SKIP $1\"; exit 77"
			sh "${vz_fuzz_why}")
		set_tests_properties(${name} PROPERTIES LABELS fuzz SKIP_RETURN_CODE 77 TIMEOUT 60)
		return()
	endif()
	set(exe ${vz_fuzz_dir}/${name})
	set(sources ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/${name}.c ${ARGN})
	add_custom_command(OUTPUT ${exe}
		COMMAND ${vz_fuzz_cc} ${vz_fuzz_flags} -o ${exe} ${sources}
		DEPENDS ${sources} ${vz_fuzz_headers}
		COMMENT "Building the libFuzzer target ${name} with ${vz_fuzz_cc}"
		VERBATIM)
	add_custom_target(${name}_bin ALL DEPENDS ${exe})
	# $1 the fuzzer, $2 the kept corpus, $3 its copy, $4 where crashing inputs go.
	# libFuzzer's own failure status is 77, ctest's skip: crashes and hangs exit 1.
	add_test(NAME ${name} COMMAND sh -c
		"rm -rf \"$3\" && mkdir -p \"$3\" \"$4\" && cp \"$2\"/* \"$3\"/ && exec \"$1\" -max_total_time=${VZ_FUZZ_SECONDS} -max_len=${max_len} -timeout=20 -error_exitcode=1 -timeout_exitcode=1 -print_final_stats=1 -artifact_prefix=\"$4\"/ \"$3\""
		sh ${exe} ${corpus} ${vz_fuzz_dir}/${name}-corpus ${vz_fuzz_dir}/${name}-artifacts)
	math(EXPR timeout "${VZ_FUZZ_SECONDS} + 120")
	set_tests_properties(${name} PROPERTIES LABELS fuzz TIMEOUT ${timeout})
endfunction()

# Guest memory image: 16 control bytes, 8 KiB of low RAM, 4 KiB above 4 GiB.
vz_fuzz(fuzz_virtq 12304 ${vz_virtio}/queue.c)
# console.c brings the transport (mmio.c) and the bare thread start (thread.c) along.
vz_fuzz(fuzz_console_ctl 8192 ${vz_virtio}/console.c ${vz_virtio}/queue.c ${vz_virtio}/mmio.c
	${PROJECT_SOURCE_DIR}/src/kvm/thread.c)
# Sequences of FUSE requests: records of up to 64 KiB each, at most 64 of them.
vz_fuzz(fuzz_fuse 65536 ${PROJECT_SOURCE_DIR}/src/kvm/fuse/server.c ${vz_virtio}/queue.c)
# modules.dep and modules.builtin texts (a distribution kernel's are about 500 KiB).
vz_fuzz(fuzz_kmods 65536 ${PROJECT_SOURCE_DIR}/src/kvm/modules.c)
# A template's state file: a header (1232 bytes) in the first 4 KiB, then the payload; one
# vCPU's section is about 6 KiB, so 64 KiB holds three with their MSRs and every device.
# template.c comes whole: these are what its other functions call (the target stubs
# the rest: the KVM kind's name, the guest init, error.c).
vz_fuzz(fuzz_snapshot 65536 ${PROJECT_SOURCE_DIR}/src/kvm/snapshot.c
	${PROJECT_SOURCE_DIR}/src/kvm/template.c ${PROJECT_SOURCE_DIR}/src/kvm/arch/x86_64/cpuid.c
	${PROJECT_SOURCE_DIR}/src/common/ipc.c ${PROJECT_SOURCE_DIR}/src/common/util.c
	${PROJECT_SOURCE_DIR}/src/common/log.c)
