import { StrictMode } from "react";
import { createRoot } from "react-dom/client";

import { App } from "./App";
import "./style.css";

const root = document.getElementById("root");
if (root) {
  root.textContent = "";
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
}
