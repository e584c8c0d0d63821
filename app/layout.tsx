import type { Metadata, Viewport } from "next";
import type { ReactNode } from "react";
import "./globals.css";
import { viewer } from "@/components/auth/session";
import { SiteHeader } from "@/components/layout/SiteHeader";

export const metadata: Metadata = {
  title: { default: "Carnet", template: "%s · Carnet" },
  description: "Partagez un notebook Jupyter avec une classe : chaque élève reçoit sa copie personnelle.",
};

export const viewport: Viewport = { width: "device-width", initialScale: 1, themeColor: "#0369a1" };

export default async function RootLayout({ children }: { children: ReactNode }) {
  const user = await viewer().catch(() => null);
  return (
    <html lang="fr">
      <body className="min-h-screen font-sans">
        <a
          href="#contenu"
          className="sr-only focus:not-sr-only focus:absolute focus:left-4 focus:top-4 focus:z-50 focus:rounded-md focus:bg-white focus:px-4 focus:py-2 focus:shadow"
        >
          Aller au contenu
        </a>
        <SiteHeader user={user ? { name: user.name, role: user.role } : null} />
        <main id="contenu" className="mx-auto max-w-6xl px-4 py-8 sm:px-6">
          {children}
        </main>
      </body>
    </html>
  );
}
