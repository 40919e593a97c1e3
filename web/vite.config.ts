import { defineConfig } from 'vite';
import vue from '@vitejs/plugin-vue';

// The server (onewindow serve) serves dist/; `npm run dev` proxies the API to a local server.
export default defineConfig({
  plugins: [vue()],
  define: {
    // vue-i18n compiles messages without eval (the server's Content-Security-Policy forbids it).
    __INTLIFY_JIT_COMPILATION__: true,
    __VUE_I18N_FULL_INSTALL__: true,
    __VUE_I18N_LEGACY_API__: false,
    __INTLIFY_PROD_DEVTOOLS__: false,
  },
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    chunkSizeWarningLimit: 2500,
    rollupOptions: {
      output: {
        // Libraries change less often than the pages: their own files stay cached across builds.
        manualChunks: {
          element: ['element-plus'],
        },
      },
    },
  },
  server: {
    proxy: { '/api': process.env.ONEWINDOW_URL ?? 'http://127.0.0.1:8080' },
  },
});
