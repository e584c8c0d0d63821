"use client";
/** The share code and QR code, as large as the screen allows, for the classroom projector ("Plein écran"). */
import { useRef, useState } from "react";
import { Button } from "@/components/ui/Button";

export function ProjectorView({ displayCode, shareUrl, qrSvg, title }: { displayCode: string; shareUrl: string; qrSvg: string; title: string }) {
  const box = useRef<HTMLDivElement>(null);
  const [full, setFull] = useState(false);
  async function toggle() {
    if (document.fullscreenElement) {
      await document.exitFullscreen().catch(() => undefined);
      setFull(false);
    } else if (box.current?.requestFullscreen) {
      await box.current.requestFullscreen().catch(() => undefined);
      setFull(Boolean(document.fullscreenElement));
    }
  }
  return (
    <div ref={box} className="flex min-h-[70vh] flex-col items-center justify-center gap-6 rounded-xl bg-white p-6 text-center" data-testid="projector">
      <p className="text-2xl font-semibold text-slate-800 sm:text-3xl">{title}</p>
      <p className="text-xl text-slate-700">Allez sur <strong className="break-all">{new URL(shareUrl).host}</strong> et saisissez le code</p>
      <p className="share-code text-6xl font-bold tracking-wider text-slate-900 sm:text-8xl lg:text-9xl" aria-label={`Code : ${displayCode.split("").join(" ")}`}>
        {displayCode}
      </p>
      {/* The SVG comes from the qrcode library and encodes only our own URL. */}
      <div className="h-[min(45vh,24rem)] w-[min(45vh,24rem)]" role="img" aria-label="QR code du lien de l'activité" dangerouslySetInnerHTML={{ __html: qrSvg }} />
      <p className="break-all font-mono text-lg text-slate-700">{shareUrl}</p>
      <Button variant="secondary" onClick={toggle}>
        {full ? "Quitter le plein écran" : "Plein écran"}
      </Button>
    </div>
  );
}
