-- AlterTable
ALTER TABLE "Activity" ADD COLUMN     "autoPreparedFor" TIMESTAMP(3),
ADD COLUMN     "expectedStudents" INTEGER;

-- AlterTable
ALTER TABLE "JupyterServer" ADD COLUMN     "preparedUntil" TIMESTAMP(3);
