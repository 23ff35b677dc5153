; Frontdesk's Windows installer (NSIS 3, Modern UI 2), per user: no admin rights needed.
;
;   makensis /DVERSION=0.1.0 /DDIST_DIR=build\installer\dist\frontdesk ^
;            /DOUT_DIR=dist [/DICON=build\installer\icons\frontdesk.ico] ^
;            installer\windows\frontdesk.nsi
;
; DIST_DIR is PyInstaller's one-folder bundle (Frontdesk.exe, frontdesk-cli.exe,
; _internal\). Writes OUT_DIR\Frontdesk-Setup-<VERSION>.exe.
;
; Installs to %LOCALAPPDATA%\Programs\Frontdesk, adds a Start-menu shortcut, optionally
; starts Frontdesk with Windows (HKCU Run key), and registers an uninstaller in "Apps &
; features". The uninstaller removes the program and its shortcuts and Run key; the
; office's data (%APPDATA%\Frontdesk and %LOCALAPPDATA%\Frontdesk: the database, logs,
; settings) stays unless the user ticks "Also delete my Frontdesk data".

Unicode true
ManifestDPIAware true
RequestExecutionLevel user
SetCompressor /SOLID lzma

!ifndef VERSION
  !error "pass the version: makensis /DVERSION=x.y.z (pyproject's version)"
!endif
!ifndef DIST_DIR
  !define DIST_DIR "..\..\build\installer\dist\frontdesk"
!endif
!ifndef OUT_DIR
  !define OUT_DIR "..\..\dist"
!endif

!define APP_NAME "Frontdesk"
!define APP_EXE "Frontdesk.exe"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\Frontdesk"
!define RUN_KEY "Software\Microsoft\Windows\CurrentVersion\Run"

!include "MUI2.nsh"
!include "FileFunc.nsh"
!include "LogicLib.nsh"

Name "${APP_NAME}"
OutFile "${OUT_DIR}\Frontdesk-Setup-${VERSION}.exe"
InstallDir "$LOCALAPPDATA\Programs\Frontdesk"
InstallDirRegKey HKCU "Software\Frontdesk" "InstallDir"
BrandingText "${APP_NAME} ${VERSION}"

VIProductVersion "${VERSION}.0"
VIAddVersionKey "ProductName" "${APP_NAME}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "FileDescription" "${APP_NAME} installer"
VIAddVersionKey "LegalCopyright" "Frontdesk"

!ifdef ICON
  !define MUI_ICON "${ICON}"
  !define MUI_UNICON "${ICON}"
!endif
!define MUI_ABORTWARNING
!define MUI_FINISHPAGE_RUN "$INSTDIR\${APP_EXE}"
!define MUI_FINISHPAGE_RUN_TEXT "Open Frontdesk now"
!define MUI_COMPONENTSPAGE_SMALLDESC

!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_COMPONENTS
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH

!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_COMPONENTS
!insertmacro MUI_UNPAGE_INSTFILES

!insertmacro MUI_LANGUAGE "English"

; ------------------------------------------------------------------ install
Section "Frontdesk (required)" SecApp
  SectionIn RO
  ; An open Frontdesk keeps its files locked; ask it to close first.
  nsExec::Exec 'taskkill /IM "${APP_EXE}" /T'
  Pop $0
  SetOutPath "$INSTDIR"
  ; A new version replaces the old program files wholesale (never the data).
  RMDir /r "$INSTDIR\_internal"
  File /r "${DIST_DIR}\*.*"

  CreateDirectory "$SMPROGRAMS"
  CreateShortcut "$SMPROGRAMS\${APP_NAME}.lnk" "$INSTDIR\${APP_EXE}" "" "$INSTDIR\${APP_EXE}" 0
  CreateShortcut "$SMPROGRAMS\${APP_NAME} demo.lnk" "$INSTDIR\${APP_EXE}" "demo" "$INSTDIR\${APP_EXE}" 0

  WriteUninstaller "$INSTDIR\Uninstall.exe"
  WriteRegStr HKCU "Software\Frontdesk" "InstallDir" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayName" "${APP_NAME}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "Publisher" "Frontdesk"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\${APP_EXE}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\Uninstall.exe"'
  WriteRegStr HKCU "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\Uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  IntFmt $0 "0x%08X" $0
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "EstimatedSize" "$0"
SectionEnd

Section /o "Start with Windows" SecAutostart
  ; Starts in the tray at sign-in so no missed call waits for someone to open it.
  WriteRegStr HKCU "${RUN_KEY}" "${APP_NAME}" '"$INSTDIR\${APP_EXE}"'
SectionEnd

!insertmacro MUI_FUNCTION_DESCRIPTION_BEGIN
  !insertmacro MUI_DESCRIPTION_TEXT ${SecApp} "The Frontdesk app and its Start-menu shortcuts."
  !insertmacro MUI_DESCRIPTION_TEXT ${SecAutostart} "Open Frontdesk in the tray when you sign in to Windows, so missed calls are always texted back."
!insertmacro MUI_FUNCTION_DESCRIPTION_END

; ------------------------------------------------------------------ uninstall
Section "un.Frontdesk" UnSecApp
  SectionIn RO
  nsExec::Exec 'taskkill /IM "${APP_EXE}" /T'
  Pop $0
  Sleep 500
  Delete "$SMPROGRAMS\${APP_NAME}.lnk"
  Delete "$SMPROGRAMS\${APP_NAME} demo.lnk"
  DeleteRegValue HKCU "${RUN_KEY}" "${APP_NAME}"
  DeleteRegKey HKCU "${UNINSTALL_KEY}"
  DeleteRegKey HKCU "Software\Frontdesk"
  ; Only what the installer put there: the bundle and the uninstaller itself.
  RMDir /r "$INSTDIR\_internal"
  Delete "$INSTDIR\Frontdesk.exe"
  Delete "$INSTDIR\frontdesk-cli.exe"
  Delete "$INSTDIR\Uninstall.exe"
  RMDir "$INSTDIR"
SectionEnd

Section /o "un.Also delete my Frontdesk data" UnSecData
  ; The database, logs and settings of this Windows user. Off unless ticked.
  RMDir /r "$APPDATA\Frontdesk"
  RMDir /r "$LOCALAPPDATA\Frontdesk"
SectionEnd

!insertmacro MUI_UNFUNCTION_DESCRIPTION_BEGIN
  !insertmacro MUI_DESCRIPTION_TEXT ${UnSecApp} "Remove the Frontdesk program, its shortcuts and its start-with-Windows entry."
  !insertmacro MUI_DESCRIPTION_TEXT ${UnSecData} "Also delete this user's Frontdesk data: conversations, contacts, call history, settings and logs. Leave unticked to keep them for a later install."
!insertmacro MUI_UNFUNCTION_DESCRIPTION_END
