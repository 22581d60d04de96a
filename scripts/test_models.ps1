# Score up to five test videos of each exercise with that exercise's exported ONNX model, as the
# original project's test script did (Windows PowerShell / PowerShell 7):
#   powershell -ExecutionPolicy Bypass -File scripts\test_models.ps1
#   powershell -File scripts\test_models.ps1 -DataDir D:\data -ModelDir D:\checkpoints
#   powershell -File scripts\test_models.ps1 --json        # other arguments go to score_video.py
# An exercise whose test folder or model is missing is skipped with a message; the exit status is
# non-zero when a video could not be scored. Same file kinds as scripts/test_models.sh.
param(
    [string]$DataDir = "data",
    [string]$ModelDir = "checkpoints",
    [int]$MaxVideos = 5,
    [Parameter(ValueFromRemainingArguments = $true)][string[]]$ScoreArgs = @()
)
$ErrorActionPreference = "Stop"
Set-Location (Split-Path -Parent $PSScriptRoot)
$python = if (Test-Path ".venv\Scripts\python.exe") { ".venv\Scripts\python.exe" } else { "python" }
$patterns = @("*.mp4", "*.avi", "*.mov", "*.mkv", "*.webm", "*.m4v", "*.mpg", "*.mpeg", "*.pose.npz")
$exercises = [ordered]@{ squat = "squats_test"; pushup = "PushUps_test"; lunge = "lunges_test" }

$status = 0
foreach ($exercise in $exercises.Keys) {
    $folder = Join-Path $DataDir $exercises[$exercise]
    $model = Join-Path $ModelDir "$($exercise)_scorer.onnx"
    if (-not (Test-Path $folder -PathType Container)) { Write-Host "== $($exercise): skipped, no test folder $folder"; continue }
    if (-not (Test-Path $model -PathType Leaf)) { Write-Host "== $($exercise): skipped, no model $model (python cli.py export ...)"; continue }
    $videos = @(Get-ChildItem -Path $folder -File |
        Where-Object { $name = $_.Name; $patterns | Where-Object { $name -like $_ } } |
        Sort-Object Name | Select-Object -First $MaxVideos | ForEach-Object { $_.FullName })
    if ($videos.Count -eq 0) { Write-Host "== $($exercise): skipped, no videos in $folder"; continue }
    Write-Host "== $($exercise): $($videos.Count) video(s) from $folder with $model"
    & $python scripts/score_video.py --model $model @ScoreArgs @videos
    if ($LASTEXITCODE -ne 0) { $status = 1 }
}
exit $status
