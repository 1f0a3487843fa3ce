# The amp_native addon: Node-API only (ABI-stable, loads in Electron unrebuilt; stack.md §8).
{
  'targets': [
    {
      'target_name': 'amp_native',
      'sources': ['src/addon.cc', 'src/mapping.cc', 'src/watch.cc', 'src/ringwatch.cc', 'src/fds.cc', 'src/ioctl.cc'],
      'dependencies': ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      'defines': [
        'NAPI_VERSION=8',
        # Electron's V8 memory cage forbids ArrayBuffers over external memory: copy in, copy out.
        'NODE_API_NO_EXTERNAL_BUFFERS_ALLOWED',
      ],
      'cflags_cc': ['-std=c++17', '-Wall', '-Wextra'],
    },
  ],
}
