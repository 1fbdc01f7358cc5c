import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

// The Peregrine server serves ui/dist at "/", so assets use absolute paths.
// For `vite dev` against a running server, set PEREGRINE_DEV_API to its
// origin (e.g. http://127.0.0.1:PORT); the session cookie is per host, so
// open the server's start link once first.
const devApi = process.env["PEREGRINE_DEV_API"];

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
  },
  server: devApi
    ? { proxy: { "/api": { target: devApi, changeOrigin: false, ws: true } } }
    : {},
});
