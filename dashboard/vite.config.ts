// Two pages, built into dist/ and embedded in the server binary, which
// serves the pages at / and /dashboard and everything else under
// /ui/assets/ (src/http/ui.rs): `base` must say so.
import { resolve } from "node:path";
import { defineConfig } from "vite";

export default defineConfig({
  base: "/ui/",
  build: {
    outDir: "dist",
    assetsDir: "assets",
    emptyOutDir: true,
    // GraphiQL alone is over a megabyte before compression; that is known.
    chunkSizeWarningLimit: 2500,
    // Fonts and icons stay files: the pages' policy allows `data:` but
    // files cache better.
    assetsInlineLimit: 0,
    rollupOptions: {
      // GraphiQL's dependencies say "use client" for server rendering,
      // which a plain bundle has no use for.
      onwarn(warning, warn) {
        if (warning.code !== "MODULE_LEVEL_DIRECTIVE") warn(warning);
      },
      output: {
        // React is shared by both pages: one cached file for both.
        manualChunks(id) {
          return /node_modules\/(react|react-dom|scheduler)\//.test(id) ? "react" : undefined;
        },
      },
      input: {
        graphiql: resolve(__dirname, "graphiql.html"),
        dashboard: resolve(__dirname, "dashboard.html"),
      },
    },
  },
});
