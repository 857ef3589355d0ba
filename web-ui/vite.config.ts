import { defineConfig } from 'vitest/config';

// React through esbuild's automatic JSX runtime (no @vitejs/plugin-react needed).
export default defineConfig({
  esbuild: { jsx: 'automatic' },
  build: { outDir: 'dist', emptyOutDir: true },
  server: {
    // `npm run dev`: the API of an orchestrator on localhost:8080 (override with STEADYRUN_API).
    proxy: { '/api': process.env.STEADYRUN_API ?? 'http://localhost:8080' },
  },
  test: { environment: 'node', include: ['src/**/*.test.{ts,tsx}'] },
});
