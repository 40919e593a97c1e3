import { defineConfig } from 'vite';
import vue from '@vitejs/plugin-vue';

// The server (onewindow serve) serves dist/; `npm run dev` proxies the API to a local server.
export default defineConfig({
  plugins: [vue()],
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
