{
  "variables": {
    "unicorn_include": "<!(node -p \"require('fs').existsSync('.unicorn/include/unicorn/unicorn.h') ? '.unicorn/include' : ''\")"
  },
  "targets": [
    {
      "target_name": "vmscope",
      "sources": [
        "vmm/native/addon.c",
        "vmm/native/kvm-ioctl.c",
        "vmm/native/kvm-vm.c",
        "vmm/native/kvm-vcpu.c",
        "vmm/native/kvm-layout.c",
        "vmm/native/memory.c",
        "vmm/native/unicorn-exports.c"
      ],
      # -fvisibility=hidden: the addon's files share functions across files,
      # and only Node-API's module entry (marked visible by node_api.h) should
      # leave the .node, so no shared name can bind to one of Node's own.
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2", "-fvisibility=hidden"],
      "libraries": ["-ldl"],
      "conditions": [
        # Without Unicorn's headers, unicorn-exports.c alone builds the stub
        # whose ucLoad throws with the fix.
        ["unicorn_include!=''", {
          "sources": [
            "vmm/native/unicorn-engine.c",
            "vmm/native/unicorn-hooks.c",
            "vmm/native/unicorn-state.c"
          ],
          "include_dirs": ["<(unicorn_include)"],
          "defines": ["VMSCOPE_HAVE_UNICORN"]
        }]
      ]
    }
  ]
}
